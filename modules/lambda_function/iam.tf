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
  description          = var.role_description
  assume_role_policy   = data.aws_iam_policy_document.assume.json
  permissions_boundary = var.role_permissions_boundary

  tags = var.tags
}

# One inline policy: the caller's statements first, then logging and tracing. One document
# rather than two policies keeps a single place to read what the function may do.
data "aws_iam_policy_document" "this" {
  source_policy_documents = [var.policy_json]

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
  name   = var.policy_name
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}
