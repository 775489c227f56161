# The watchdog (docs/design.md §6a): a Lambda function run on a schedule that lists the RUNNING
# executions of the deployment's state machines and logs, per state machine, the age of the
# oldest (`OldestRunningSeconds`) in CloudWatch's embedded metric format. AWS/States publishes
# ExecutionTime only when an execution ends, so without this an execution stuck RUNNING (a
# lost callback) sets off no alarm until it times out, if it ever does.

module "function" {
  source = "../lambda_function"

  function_name    = var.function_name
  description      = "stepqueue watchdog: ages of the oldest RUNNING execution of each state machine"
  role_description = "stepqueue watchdog ${var.function_name}"
  lambda_handler   = "stepqueue_watchdog.entry.handler"

  policy_name = "stepqueue-watchdog"
  policy_json = data.aws_iam_policy_document.this.json

  environment_variables = {
    # Sorted: the same set never changes the function's configuration.
    STATE_MACHINE_ARNS = jsonencode(sort(var.state_machine_arns))
  }

  # No reserved concurrency: a run lasts at most the timeout, far less than the schedule's
  # interval, and reserving would take from the account's unreserved pool.
  settings = merge(var.function, {
    reserved_concurrency = null
    tags                 = merge(var.tags, try(var.function.tags, {}))
  })
  setting_names = keys(var.function)
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

  lifecycle {
    precondition {
      condition     = module.function.settings.timeout_seconds >= 10
      error_message = "function.timeout_seconds must be at least 10: one run pages through every state machine's RUNNING executions."
    }
  }
}

resource "aws_lambda_permission" "this" {
  statement_id  = "AllowEventBridgeSchedule"
  action        = "lambda:InvokeFunction"
  function_name = module.function.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.this.arn
}
