data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  name                 = coalesce(var.role_name, var.function_name)
  description          = "stepqueue worker ${var.function_name}"
  assume_role_policy   = data.aws_iam_policy_document.assume.json
  permissions_boundary = var.role_permissions_boundary

  tags = var.tags
}

data "aws_iam_policy_document" "this" {
  # What the event source mapping needs to poll the queue (it runs with the function's role),
  # plus ChangeMessageVisibility for the runtime's retry back-off. This queue only.
  statement {
    sid = "ConsumeOwnQueue"
    actions = [
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:GetQueueAttributes",
      "sqs:ChangeMessageVisibility",
    ]
    resources = [var.queue_arn]
  }

  # Reading messages of a queue encrypted with a customer key needs kms:Decrypt on that key.
  dynamic "statement" {
    for_each = var.queue_kms_key_arn == null ? [] : [var.queue_kms_key_arn]
    content {
      sid       = "DecryptQueueMessages"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]
    }
  }

  # The task-token APIs have no resource type in the Service Authorization Reference (the
  # token, not an ARN, identifies the task), so AWS only accepts "*" here.
  statement {
    sid = "ReportTaskResults"
    actions = [
      "states:SendTaskSuccess",
      "states:SendTaskFailure",
      "states:SendTaskHeartbeat",
    ]
    resources = ["*"]
  }

  statement {
    sid = "WriteOwnLogs"
    actions = [
      "logs:CreateLogStream",
      "logs:PutLogEvents",
    ]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }

  # X-Ray's PutTraceSegments / PutTelemetryRecords have no resource type: AWS requires "*".
  dynamic "statement" {
    for_each = var.tracing_mode == "Active" ? [1] : []
    content {
      sid = "XRay"
      actions = [
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
      ]
      resources = ["*"]
    }
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "stepqueue-worker"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}
