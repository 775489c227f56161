# The watchdog (docs/design.md §6a): a Lambda function run on a schedule that lists the RUNNING
# executions of the deployment's state machines and logs, per state machine, the age of the
# oldest (`OldestRunningSeconds`) in CloudWatch's embedded metric format. AWS/States publishes
# ExecutionTime only when an execution ends, so without this an execution stuck RUNNING (a
# lost callback) sets off no alarm until it times out, if it ever does.

module "function" {
  source = "../lambda_function"

  function_name    = var.function_name
  description      = "stepqueue watchdog: ages of the oldest RUNNING execution of each state machine"
  role_name        = var.role_name
  role_description = "stepqueue watchdog ${var.function_name}"

  role_permissions_boundary = var.role_permissions_boundary
  policy_name               = "stepqueue-watchdog"
  policy_json               = data.aws_iam_policy_document.this.json

  zip_path         = var.zip_path
  source_code_hash = var.source_code_hash
  lambda_handler   = var.lambda_handler
  runtime          = var.runtime
  architecture     = var.architecture

  # No reserved concurrency: a run lasts at most the timeout, far less than the schedule's
  # interval, and reserving would take from the account's unreserved pool.
  timeout_seconds = var.timeout_seconds
  memory_mb       = var.memory_mb

  environment_variables = {
    # Sorted: the same set never changes the function's configuration.
    STATE_MACHINE_ARNS = jsonencode(sort(var.state_machine_arns))
  }
  kms_key_arn = var.kms_key_arn

  tracing_mode       = var.tracing_mode
  log_retention_days = var.log_retention_days
  log_kms_key_arn    = var.log_kms_key_arn

  tags = var.tags
}

# ListExecutions is authorised on the state machine itself: ours only.
data "aws_iam_policy_document" "this" {
  statement {
    sid       = "ListOwnRunningExecutions"
    actions   = ["states:ListExecutions"]
    resources = sort(var.state_machine_arns)
  }
}

resource "aws_cloudwatch_event_rule" "this" {
  name                = "${var.function_name}-schedule"
  description         = "stepqueue: measure the oldest RUNNING execution of each state machine"
  schedule_expression = var.schedule_expression

  tags = var.tags
}

resource "aws_cloudwatch_event_target" "this" {
  rule      = aws_cloudwatch_event_rule.this.name
  target_id = "watchdog"
  arn       = module.function.function_arn
}

resource "aws_lambda_permission" "this" {
  statement_id  = "AllowEventBridgeSchedule"
  action        = "lambda:InvokeFunction"
  function_name = module.function.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.this.arn
}
