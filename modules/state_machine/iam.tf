data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["states.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  name                 = coalesce(var.role_name, "${var.name}-sfn")
  description          = "stepqueue state machine ${var.name}"
  assume_role_policy   = data.aws_iam_policy_document.assume.json
  permissions_boundary = var.role_permissions_boundary

  tags = var.tags
}

data "aws_iam_policy_document" "this" {
  # sqs:sendMessage.waitForTaskToken to this workflow's own worker queues only.
  dynamic "statement" {
    for_each = length(var.queue_arns) > 0 ? [1] : []
    content {
      sid       = "SendToOwnQueues"
      actions   = ["sqs:SendMessage"]
      resources = sort(var.queue_arns)
    }
  }

  # Sending to a queue encrypted with a customer key needs the data key of that key.
  dynamic "statement" {
    for_each = var.queue_kms_key_arn == null ? [] : [var.queue_kms_key_arn]
    content {
      sid       = "EncryptQueueMessages"
      actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
      resources = [statement.value]
    }
  }

  # Step Functions delivers logs through CloudWatch Logs vended-log delivery. These APIs have no
  # resource type (the delivery is not a log group ARN), so AWS requires "*" here; see
  # "IAM policies for logging to CloudWatch Logs" in the Step Functions developer guide.
  statement {
    sid = "DeliverLogs"
    actions = [
      "logs:CreateLogDelivery",
      "logs:GetLogDelivery",
      "logs:UpdateLogDelivery",
      "logs:DeleteLogDelivery",
      "logs:ListLogDeliveries",
      "logs:PutResourcePolicy",
      "logs:DescribeResourcePolicies",
      "logs:DescribeLogGroups",
    ]
    resources = ["*"]
  }

  # X-Ray's trace and sampling APIs have no resource type: AWS requires "*".
  dynamic "statement" {
    for_each = var.tracing_enabled ? [1] : []
    content {
      sid = "XRay"
      actions = [
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
      ]
      resources = ["*"]
    }
  }

  dynamic "statement" {
    for_each = var.additional_policy_statements
    content {
      sid       = statement.value.sid
      actions   = statement.value.actions
      resources = statement.value.resources
    }
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "stepqueue-state-machine"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}
