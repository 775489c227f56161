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
  # The function's environment key: a SecureString or a secret may be encrypted with it.
  secrets_kms_key_arn = try(var.function.kms_key_arn, null)
}

module "function" {
  source = "../lambda_function"

  function_name    = var.function_name
  description      = var.description
  role_description = "stepqueue worker ${var.function_name}"
  lambda_handler   = "stepqueue_runtime.entry.handler"

  policy_name = "stepqueue-worker"
  policy_json = data.aws_iam_policy_document.this.json

  environment_variables = merge({
    STEPQUEUE_HANDLER = var.handler
  }, local.payload_environment, local.secrets_environment)

  settings      = var.function
  setting_names = keys(var.function)
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

  lifecycle {
    precondition {
      condition     = module.function.settings.reserved_concurrency == null || try(module.function.settings.reserved_concurrency >= var.max_concurrency, false)
      error_message = "function.reserved_concurrency, when set, must be at least max_concurrency, else throttled messages end in the DLQ."
    }
  }
}
