# The reclaimer of the semaphore (docs/design.md): a Lambda function invoked
#  - by an EventBridge rule on "Step Functions Execution Status Change" to FAILED, TIMED_OUT or
#    ABORTED for our state machines: it releases the dead execution's slots at once;
#  - by a scheduled rule: a sweep that releases every holder whose execution is no longer
#    RUNNING (DescribeExecution), which catches missed events and acquires that landed after
#    the one-shot cleanup.

locals {
  # arn:aws:states:r:a:stateMachine:NAME -> arn:aws:states:r:a:execution:NAME:*
  execution_arn_patterns = [
    for arn in var.state_machine_arns : "${replace(arn, ":stateMachine:", ":execution:")}:*"
  ]

  create_status_rule = var.create_status_change_rule && length(var.state_machine_arns) > 0
}

module "function" {
  source = "../lambda_function"

  function_name    = var.function_name
  description      = "stepqueue semaphore reclaimer: releases slots of executions that are no longer RUNNING"
  role_name        = var.role_name
  role_description = "stepqueue semaphore reclaimer ${var.function_name}"

  role_permissions_boundary = var.role_permissions_boundary
  policy_name               = "stepqueue-reclaimer"
  policy_json               = data.aws_iam_policy_document.this.json

  zip_path         = var.zip_path
  source_code_hash = var.source_code_hash
  lambda_handler   = var.lambda_handler
  runtime          = var.runtime
  architecture     = var.architecture

  timeout_seconds      = var.timeout_seconds
  memory_mb            = var.memory_mb
  reserved_concurrency = var.reserved_concurrency

  environment_variables = merge(var.environment_variables, {
    SEMAPHORE_TABLE = var.table_name
  })
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

resource "aws_cloudwatch_event_rule" "status_change" {
  count = local.create_status_rule ? 1 : 0

  name        = "${var.function_name}-status-change"
  description = "stepqueue: executions of our state machines that ended without releasing their slot"

  event_pattern = jsonencode({
    source        = ["aws.states"]
    "detail-type" = ["Step Functions Execution Status Change"]
    detail = {
      status          = ["FAILED", "TIMED_OUT", "ABORTED"]
      stateMachineArn = sort(var.state_machine_arns)
    }
  })

  tags = var.tags
}

resource "aws_cloudwatch_event_target" "status_change" {
  count = local.create_status_rule ? 1 : 0

  rule      = aws_cloudwatch_event_rule.status_change[0].name
  target_id = "reclaimer"
  arn       = module.function.function_arn

  retry_policy {
    maximum_retry_attempts       = var.event_retry_attempts
    maximum_event_age_in_seconds = var.event_maximum_age_seconds
  }
}

resource "aws_lambda_permission" "status_change" {
  count = local.create_status_rule ? 1 : 0

  statement_id  = "AllowEventBridgeStatusChange"
  action        = "lambda:InvokeFunction"
  function_name = module.function.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.status_change[0].arn
}

resource "aws_cloudwatch_event_rule" "sweep" {
  count = var.create_sweep_rule ? 1 : 0

  name                = "${var.function_name}-sweep"
  description         = "stepqueue: release every semaphore holder whose execution is no longer RUNNING"
  schedule_expression = var.sweep_schedule_expression

  tags = var.tags
}

resource "aws_cloudwatch_event_target" "sweep" {
  count = var.create_sweep_rule ? 1 : 0

  rule      = aws_cloudwatch_event_rule.sweep[0].name
  target_id = "reclaimer-sweep"
  arn       = module.function.function_arn
}

resource "aws_lambda_permission" "sweep" {
  count = var.create_sweep_rule ? 1 : 0

  statement_id  = "AllowEventBridgeSweep"
  action        = "lambda:InvokeFunction"
  function_name = module.function.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.sweep[0].arn
}
