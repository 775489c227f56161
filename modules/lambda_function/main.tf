# A Lambda function from the stepqueue zip with what every such function needs: its role, its
# log group and the permission to write to it (and to X-Ray). The callers (worker, gatekeeper, watchdog, start_queue)
# add their own permissions through `policy_json` and their own triggers.

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_158: a customer KMS key is optional (var.log_kms_key_arn); CloudWatch Logs encrypts at rest by default
  name              = "/aws/lambda/${var.function_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn

  tags = var.tags
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116: SQS-triggered callers get retries and a DLQ from the queue; EventBridge-triggered ones from a scheduled sweep
  #checkov:skip=CKV_AWS_117: the functions only call public AWS APIs (SQS, DynamoDB, Step Functions, S3 for the claim check); a VPC adds NAT cost and cold-start latency, so it is the caller's choice (var.subnet_ids)
  #checkov:skip=CKV_AWS_272: code signing needs an AWS Signer profile; the zip is built reproducibly and pinned by source_code_hash
  #checkov:skip=CKV_AWS_173: the environment holds handler paths and table names, no secrets; a KMS key can still be given (var.kms_key_arn)
  #checkov:skip=CKV_AWS_115: reserved concurrency is optional (var.reserved_concurrency); callers cap concurrency at their trigger
  function_name = var.function_name
  description   = var.description
  role          = aws_iam_role.this.arn

  filename         = var.zip_path
  source_code_hash = var.source_code_hash
  handler          = var.lambda_handler
  runtime          = var.runtime
  architectures    = [var.architecture]
  layers           = var.layers

  timeout     = var.timeout_seconds
  memory_size = var.memory_mb

  reserved_concurrent_executions = var.reserved_concurrency == null ? -1 : var.reserved_concurrency

  kms_key_arn = var.kms_key_arn

  environment {
    variables = var.environment_variables
  }

  # Only when asked for: a function without these blocks plans exactly as before they existed.
  dynamic "ephemeral_storage" {
    for_each = var.ephemeral_storage_mb == 512 ? [] : [var.ephemeral_storage_mb]
    content {
      size = ephemeral_storage.value
    }
  }

  dynamic "vpc_config" {
    for_each = length(var.subnet_ids) == 0 ? [] : [1]
    content {
      subnet_ids         = var.subnet_ids
      security_group_ids = var.security_group_ids
    }
  }

  tracing_config {
    mode = var.tracing_mode
  }

  tags = var.tags

  # The log group must exist (with its retention and key) before the first invocation creates
  # it without them, and the role must be allowed to write there before the function runs.
  depends_on = [
    aws_cloudwatch_log_group.this,
    aws_iam_role_policy.this,
    aws_iam_role_policy.extra,
    aws_iam_role_policy_attachment.managed,
  ]
}
