# An SQS work queue with its dead-letter queue.
#
# The DLQ only accepts redrives from this queue (redrive allow policy), both queues are encrypted
# (SQS-managed SSE, or the customer key when var.kms_key_arn is set), and an alarm fires as soon
# as anything lands in the DLQ.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  suffix     = var.fifo ? ".fifo" : ""
  queue_name = "${var.name}${local.suffix}"
  dlq_base   = coalesce(var.dlq_name, "${var.name}-dlq")
  dlq_name   = "${local.dlq_base}${local.suffix}"
  use_cmk    = var.kms_key_arn != null

  # The work queue's ARN, known before it exists: the DLQ's redrive allow policy names it while
  # the work queue's redrive policy names the DLQ, and the static ARN breaks that cycle (the
  # terraform-aws-modules/sqs `queue_arn_static` idea).
  queue_arn_static = "arn:${data.aws_partition.current.partition}:sqs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:${local.queue_name}"
}

resource "aws_sqs_queue" "dlq" {
  name       = local.dlq_name
  fifo_queue = var.fifo ? true : null

  # The DLQ keeps messages as long as SQS allows, so there is time to inspect and redrive them.
  message_retention_seconds = var.dlq_message_retention_seconds

  sqs_managed_sse_enabled           = local.use_cmk ? null : true
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = local.use_cmk ? var.kms_data_key_reuse_period_seconds : null

  # Only the work queue may use this queue as its DLQ.
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [local.queue_arn_static]
  })

  tags = var.tags

  lifecycle {
    precondition {
      condition     = length(local.dlq_name) <= 80
      error_message = "SQS queue names are at most 80 characters: ${local.dlq_name} has ${length(local.dlq_name)}; shorten the queue's name."
    }
  }
}

resource "aws_sqs_queue" "this" {
  name       = local.queue_name
  fifo_queue = var.fifo ? true : null

  visibility_timeout_seconds = var.visibility_timeout_seconds
  message_retention_seconds  = var.message_retention_seconds
  delay_seconds              = var.delay_seconds
  receive_wait_time_seconds  = var.receive_wait_time_seconds

  sqs_managed_sse_enabled           = local.use_cmk ? null : true
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = local.use_cmk ? var.kms_data_key_reuse_period_seconds : null

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq.arn
    maxReceiveCount     = var.max_receive_count
  })

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "dlq" {
  count = var.create_dlq_alarm ? 1 : 0

  alarm_name        = "${local.dlq_base}-not-empty"
  alarm_description = coalesce(var.dlq_alarm_description, "Messages in ${local.dlq_name}: a worker failed ${var.max_receive_count} times on them.")

  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dlq.name }
  statistic           = "Maximum"
  period              = var.dlq_alarm_period_seconds
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.dlq_alarm_threshold
  treat_missing_data  = "notBreaching"

  alarm_actions = var.alarm_sns_topic_arn == null ? [] : [var.alarm_sns_topic_arn]
  ok_actions    = var.alarm_sns_topic_arn == null ? [] : [var.alarm_sns_topic_arn]

  tags = var.tags
}
