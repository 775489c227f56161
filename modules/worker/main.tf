# A worker: the Lambda function that runs one user handler from the stepqueue zip, and its SQS
# event source mapping. The function reports results straight to Step Functions with the task
# token carried in each message, and answers SQS with a partial batch response.

locals {
  # The claim check's settings (stepqueue_runtime/payloads.py), only with a payload store: a
  # worker without one keeps exactly the environment it had.
  payload_environment = var.payload_store == null ? tomap({}) : tomap({
    STEPQUEUE_PAYLOAD_BUCKET          = var.payload_store.bucket_name
    STEPQUEUE_PAYLOAD_READ_PREFIX     = var.payload_store.read_prefix
    STEPQUEUE_PAYLOAD_WRITE_PREFIX    = var.payload_store.write_prefix
    STEPQUEUE_PAYLOAD_THRESHOLD_BYTES = tostring(var.payload_store.threshold_bytes)
    STEPQUEUE_PAYLOAD_MAX_BYTES       = tostring(var.payload_store.max_bytes)
  })

  # Secrets travel by ARN only: the runtime reads them at cold start (stepqueue_runtime), so
  # their values are never in the function's configuration nor in the state.
  secrets_environment = length(var.secrets) == 0 ? tomap({}) : tomap({
    STEPQUEUE_SECRETS = jsonencode(var.secrets)
  })
  ssm_parameter_arns = sort([for arn in values(var.secrets) : arn if can(regex("^arn:aws[a-z-]*:ssm:", arn))])
  secret_arns        = sort([for arn in values(var.secrets) : arn if can(regex("^arn:aws[a-z-]*:secretsmanager:", arn))])
}

module "function" {
  source = "../lambda_function"

  function_name    = var.function_name
  description      = var.description
  role_name        = var.role_name
  role_description = "stepqueue worker ${var.function_name}"

  role_permissions_boundary = var.role_permissions_boundary
  policy_name               = "stepqueue-worker"
  policy_json               = data.aws_iam_policy_document.this.json

  zip_path         = var.zip_path
  source_code_hash = var.source_code_hash
  lambda_handler   = var.lambda_handler
  runtime          = var.runtime
  architecture     = var.architecture
  layers           = var.layers

  timeout_seconds      = var.timeout_seconds
  memory_mb            = var.memory_mb
  reserved_concurrency = var.reserved_concurrency
  ephemeral_storage_mb = var.ephemeral_storage_mb

  subnet_ids         = var.subnet_ids
  security_group_ids = var.security_group_ids

  policy_statements   = var.policy_statements
  managed_policy_arns = var.managed_policy_arns

  environment_variables = merge(var.environment_variables, {
    STEPQUEUE_HANDLER = var.handler
  }, local.payload_environment, local.secrets_environment)
  kms_key_arn = var.kms_key_arn

  tracing_mode       = var.tracing_mode
  log_retention_days = var.log_retention_days
  log_kms_key_arn    = var.log_kms_key_arn

  tags = var.tags
}

# The function, role, policy and log group lived here before the shared module: moving their
# state keeps existing deployments from replacing them.
moved {
  from = aws_lambda_function.this
  to   = module.function.aws_lambda_function.this
}

moved {
  from = aws_iam_role.this
  to   = module.function.aws_iam_role.this
}

moved {
  from = aws_iam_role_policy.this
  to   = module.function.aws_iam_role_policy.this
}

moved {
  from = aws_cloudwatch_log_group.this
  to   = module.function.aws_cloudwatch_log_group.this
}

resource "aws_lambda_event_source_mapping" "this" {
  event_source_arn = var.queue_arn
  function_name    = module.function.function_arn
  enabled          = var.event_source_mapping_enabled

  batch_size                         = var.batch_size
  maximum_batching_window_in_seconds = var.batching_window_seconds

  # The runtime answers with {"batchItemFailures": [...]}: only the failed records are retried.
  function_response_types = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = var.max_concurrency
  }
}
