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
  description          = "stepqueue semaphore reclaimer ${var.function_name}"
  assume_role_policy   = data.aws_iam_policy_document.assume.json
  permissions_boundary = var.role_permissions_boundary

  tags = var.tags
}

data "aws_iam_policy_document" "this" {
  # Sweep: Scan the items; reclaim: conditional REMOVE of a holder. This table only.
  statement {
    sid       = "ReclaimSemaphoreSlots"
    actions   = ["dynamodb:Scan", "dynamodb:UpdateItem"]
    resources = [var.table_arn]
  }

  dynamic "statement" {
    for_each = var.table_kms_key_arn == null ? [] : [var.table_kms_key_arn]
    content {
      sid       = "UseSemaphoreTableKey"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value]
    }
  }

  # DescribeExecution is authoritative for "is this holder still RUNNING": executions of our
  # state machines only.
  dynamic "statement" {
    for_each = length(local.execution_arn_patterns) > 0 ? [1] : []
    content {
      sid       = "DescribeOwnExecutions"
      actions   = ["states:DescribeExecution"]
      resources = sort(local.execution_arn_patterns)
    }
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
  name   = "stepqueue-reclaimer"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}
