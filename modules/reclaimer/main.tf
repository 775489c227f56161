# The reclaimer of the semaphore (DESIGN.md §4): a Lambda function invoked
#  - by an EventBridge rule on "Step Functions Execution Status Change" to FAILED, TIMED_OUT or
#    ABORTED for our state machines: it releases the dead execution's slots at once;
#  - by a scheduled rule: a sweep that releases every holder whose execution is no longer
#    RUNNING (DescribeExecution), which catches missed events and acquires that landed after
#    the one-shot cleanup.

locals {
  log_group_name = "/aws/lambda/${var.function_name}"

  # arn:aws:states:r:a:stateMachine:NAME -> arn:aws:states:r:a:execution:NAME:*
  execution_arn_patterns = [
    for arn in var.state_machine_arns : "${replace(arn, ":stateMachine:", ":execution:")}:*"
  ]

  create_status_rule = var.create_status_change_rule && length(var.state_machine_arns) > 0
}

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_158: a customer KMS key is optional (var.log_kms_key_arn); CloudWatch Logs encrypts at rest by default
  name              = local.log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn

  tags = var.tags
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116: a lost event is not lost work: the scheduled sweep reclaims whatever an event invocation missed
  #checkov:skip=CKV_AWS_117: the function only calls public AWS APIs (DynamoDB, Step Functions); a VPC adds NAT cost for nothing
  #checkov:skip=CKV_AWS_272: code signing needs an AWS Signer profile; the zip is built reproducibly and pinned by source_code_hash
  #checkov:skip=CKV_AWS_173: the environment holds only the table name, no secrets; a KMS key can still be given (var.kms_key_arn)
  #checkov:skip=CKV_AWS_115: reserved concurrency is optional (var.reserved_concurrency); the reclaimer is idempotent under concurrency
  function_name = var.function_name
  description   = "stepqueue semaphore reclaimer: releases slots of executions that are no longer RUNNING"
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
      SEMAPHORE_TABLE = var.table_name
    })
  }

  tracing_config {
    mode = var.tracing_mode
  }

  tags = var.tags

  depends_on = [
    aws_cloudwatch_log_group.this,
    aws_iam_role_policy.this,
  ]
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
  arn       = aws_lambda_function.this.arn

  retry_policy {
    maximum_retry_attempts       = var.event_retry_attempts
    maximum_event_age_in_seconds = var.event_maximum_age_seconds
  }
}

resource "aws_lambda_permission" "status_change" {
  count = local.create_status_rule ? 1 : 0

  statement_id  = "AllowEventBridgeStatusChange"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this.function_name
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
  arn       = aws_lambda_function.this.arn
}

resource "aws_lambda_permission" "sweep" {
  count = var.create_sweep_rule ? 1 : 0

  statement_id  = "AllowEventBridgeSweep"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.sweep[0].arn
}
