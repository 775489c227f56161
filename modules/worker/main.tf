# A worker: the Lambda function that runs one user handler from the stepqueue zip, its log group
# and its SQS event source mapping. The function reports results straight to Step Functions with
# the task token carried in each message, and answers SQS with a partial batch response.

locals {
  log_group_name = "/aws/lambda/${var.function_name}"
}

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_158: a customer KMS key is optional (var.log_kms_key_arn); CloudWatch Logs encrypts at rest by default
  name              = local.log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn

  tags = var.tags
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116: SQS-triggered: failed records are retried by SQS and land in the queue's DLQ, an async-invoke DLQ never applies
  #checkov:skip=CKV_AWS_117: the function only calls public AWS APIs (SQS, Step Functions); a VPC adds NAT cost and cold-start latency for nothing
  #checkov:skip=CKV_AWS_272: code signing needs an AWS Signer profile; the zip is built reproducibly and pinned by source_code_hash
  #checkov:skip=CKV_AWS_173: the environment holds only the handler's module path, no secrets; a KMS key can still be given (var.kms_key_arn)
  #checkov:skip=CKV_AWS_115: reserved concurrency is optional (var.reserved_concurrency); the event source mapping's maximum concurrency caps it
  function_name = var.function_name
  description   = var.description
  role          = aws_iam_role.this.arn

  filename         = var.zip_path
  source_code_hash = var.source_code_hash
  handler          = var.lambda_handler
  runtime          = var.runtime
  architectures    = [var.architecture]

  timeout     = var.timeout_seconds
  memory_size = var.memory_mb

  reserved_concurrent_executions = var.reserved_concurrency == null ? -1 : var.reserved_concurrency

  kms_key_arn = var.kms_key_arn

  environment {
    variables = merge(var.environment_variables, {
      STEPQUEUE_HANDLER = var.handler
    })
  }

  tracing_config {
    mode = var.tracing_mode
  }

  tags = var.tags

  # The log group must exist (with its retention and key) before the first invocation creates it.
  depends_on = [
    aws_cloudwatch_log_group.this,
    aws_iam_role_policy.this,
  ]
}

resource "aws_lambda_event_source_mapping" "this" {
  event_source_arn = var.queue_arn
  function_name    = aws_lambda_function.this.arn
  enabled          = var.event_source_mapping_enabled

  batch_size                         = var.batch_size
  maximum_batching_window_in_seconds = var.batching_window_seconds

  # The runtime answers with {"batchItemFailures": [...]}: only the failed records are retried.
  function_response_types = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = var.max_concurrency
  }
}
