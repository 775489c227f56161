# A Lambda function from the stepqueue zip with what every such function needs: its role, its
# log group and the permission to write to it (and to X-Ray). The callers (worker, gatekeeper, watchdog, start_queue)
# add their own permissions through `policy_json` and their own triggers, and pass the
# function's settings through as one object (`settings`), validated here once.

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_158: a customer KMS key is optional (var.settings.log_kms_key_arn); CloudWatch Logs encrypts at rest by default
  name              = "/aws/lambda/${var.function_name}"
  retention_in_days = var.settings.log_retention_days
  kms_key_id        = var.settings.log_kms_key_arn

  tags = var.settings.tags
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116: SQS-triggered callers get retries and a DLQ from the queue; EventBridge-triggered ones from a scheduled sweep
  #checkov:skip=CKV_AWS_117: the functions only call public AWS APIs (SQS, DynamoDB, Step Functions, S3 for the claim check); a VPC adds NAT cost and cold-start latency, so it is the caller's choice (var.settings.subnet_ids)
  #checkov:skip=CKV_AWS_272: code signing needs an AWS Signer profile; the zip is built reproducibly and pinned by source_code_hash
  #checkov:skip=CKV_AWS_173: the environment holds handler paths and table names, no secrets; a KMS key can still be given (var.settings.kms_key_arn)
  #checkov:skip=CKV_AWS_115: reserved concurrency is optional (var.settings.reserved_concurrency); callers cap concurrency at their trigger
  function_name = var.function_name
  description   = var.description
  role          = aws_iam_role.this.arn

  filename         = var.settings.zip_path
  source_code_hash = var.settings.source_code_hash
  handler          = var.lambda_handler
  runtime          = var.settings.runtime
  architectures    = [var.settings.architecture]
  layers           = var.settings.layers

  timeout     = var.settings.timeout_seconds
  memory_size = var.settings.memory_mb

  reserved_concurrent_executions = var.settings.reserved_concurrency == null ? -1 : var.settings.reserved_concurrency

  kms_key_arn = var.settings.kms_key_arn

  environment {
    # The caller's own variables win: a setting cannot replace what the caller's code reads.
    variables = merge(var.settings.environment, var.environment_variables)
  }

  # Only when asked for: a function without these blocks plans exactly as before they existed.
  dynamic "ephemeral_storage" {
    for_each = var.settings.ephemeral_storage_mb == 512 ? [] : [var.settings.ephemeral_storage_mb]
    content {
      size = ephemeral_storage.value
    }
  }

  dynamic "vpc_config" {
    for_each = length(var.settings.subnet_ids) == 0 ? [] : [1]
    content {
      subnet_ids         = var.settings.subnet_ids
      security_group_ids = var.settings.security_group_ids
    }
  }

  tracing_config {
    mode = var.settings.tracing_mode
  }

  tags = var.settings.tags

  # The log group must exist (with its retention and key) before the first invocation creates
  # it without them, and the role must be allowed to write there before the function runs.
  depends_on = [
    aws_cloudwatch_log_group.this,
    aws_iam_role_policy.this,
    aws_iam_role_policy.extra,
    aws_iam_role_policy_attachment.managed,
  ]
}
