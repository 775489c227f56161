# A Step Functions state machine with its role, log group, logging and tracing.
#
# The definition comes in rendered (the root renders the generator's ASL template with
# templatefile()); this module does not parse it.

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_158: a customer KMS key is optional (var.log_kms_key_arn); CloudWatch Logs encrypts at rest by default
  name              = coalesce(var.log_group_name, "/aws/vendedlogs/states/${var.name}")
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn

  tags = var.tags
}

resource "aws_sfn_state_machine" "this" {
  #checkov:skip=CKV_AWS_285: execution data is off by default (var.include_execution_data) because it puts workflow payloads into the logs
  name       = var.name
  type       = var.type
  role_arn   = aws_iam_role.this.arn
  definition = var.definition

  logging_configuration {
    log_destination = "${aws_cloudwatch_log_group.this.arn}:*"
    level           = var.logging_level
    # Off by default: execution data puts workflow payloads into the logs.
    include_execution_data = var.include_execution_data
  }

  tracing_configuration {
    enabled = var.tracing_enabled
  }

  tags = var.tags

  # The role must be able to deliver logs and send messages before the machine is validated.
  depends_on = [aws_iam_role_policy.this]
}
