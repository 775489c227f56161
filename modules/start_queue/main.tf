# The start queue (docs/design.md §11): executions are submitted as SQS messages and started by
# a bounded starter Lambda, so a burst larger than StartExecution's rate quota or the account's
# open-execution quota waits in the queue instead of being refused. Each message names its
# execution, so a message delivered or submitted twice never starts a second one; a message
# that cannot start is moved to the DLQ by the starter, with the reason as message attributes.

locals {
  # The deployment's rate is the mapping's concurrency times each starter's pace.
  starts_per_second_per_starter = var.starts_per_second / var.max_concurrency
  # The starter stops starting calls this long before its deadline (stepqueue_starter.entry).
  deadline_margin_seconds = 15
  # Acquires one semaphore's gatekeeper records a second: its arrivals group, 10 a batch, at
  # central latencies (bench/scale_model.py; tests/unit/starter/test_pace_bound.py holds the
  # two equal).
  gatekeeper_records_per_second = 169
}

# A warning, not an error: starts spread over several semaphores are recorded by several
# arrivals groups. A burst of one semaphore started faster queues acquires faster than they
# are recorded, and past 120,000 queued messages that backlog hides every other group of the
# gatekeeper's queue, releases included (docs/design.md §4, Throughput).
check "pace_within_what_a_gatekeeper_records" {
  assert {
    condition     = var.starts_per_second <= local.gatekeeper_records_per_second
    error_message = "starts_per_second = ${var.starts_per_second} is above the ${local.gatekeeper_records_per_second} acquires a second one semaphore's gatekeeper records (its arrivals group, 10 a batch, at central latencies: bench/scale_model.py). A burst of one semaphore started this fast queues its acquires faster than they are recorded, and past 120,000 queued messages that backlog hides every other semaphore's releases. Set starts_per_second to ${local.gatekeeper_records_per_second} or less, unless the starts are spread over several semaphores."
  }
}

module "queue" {
  source = "../queue"

  name     = var.queue_name
  dlq_name = "${var.queue_name}-dlq"

  visibility_timeout_seconds    = var.visibility_timeout_seconds
  message_retention_seconds     = var.message_retention_seconds
  dlq_message_retention_seconds = var.dlq_message_retention_seconds
  max_receive_count             = var.max_receive_count

  kms_key_arn         = var.kms_key_arn
  create_dlq_alarm    = var.create_dlq_alarm
  alarm_sns_topic_arn = var.alarm_sns_topic_arn

  tags = var.tags
}

module "function" {
  source = "../lambda_function"

  function_name    = var.function_name
  description      = "stepqueue starter: StartExecution from the start queue at a bounded rate, idempotent by execution name"
  role_description = "stepqueue starter ${var.function_name}"
  lambda_handler   = "stepqueue_starter.entry.handler"

  policy_name = "stepqueue-starter"
  policy_json = data.aws_iam_policy_document.this.json

  environment_variables = {
    STATE_MACHINE_ARNS      = jsonencode(var.state_machine_arns)
    START_QUEUE_URL         = module.queue.queue_url
    START_DLQ_URL           = module.queue.dlq_url
    STARTS_PER_SECOND       = tostring(local.starts_per_second_per_starter)
    MAX_RECEIVE_COUNT       = tostring(var.max_receive_count)
    MAX_RETRY_DELAY_SECONDS = tostring(var.max_retry_delay_seconds)
  }

  # Reserved as the mapping's maximum concurrency: the starter always has its share, and can
  # never take more of the account's pool than that. The module's key and tags reach the
  # function unless its settings say otherwise.
  settings = merge({ kms_key_arn = var.kms_key_arn }, var.function, {
    reserved_concurrency = var.max_concurrency
    tags                 = merge(var.tags, try(var.function.tags, {}))
  })
  setting_names = keys(var.function)
}

# What the starter may do; the shared Lambda module adds logging and tracing.
data "aws_iam_policy_document" "this" {
  # What the event source mapping needs to poll (it runs with the function's role), plus
  # ChangeMessageVisibility for the retry backoff and DeleteMessage after a move to the DLQ.
  statement {
    sid = "ConsumeStartQueue"
    actions = [
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:GetQueueAttributes",
      "sqs:ChangeMessageVisibility",
    ]
    resources = [module.queue.queue_arn]
  }

  # A message that cannot start goes to the DLQ with its reason, sent by the starter itself.
  statement {
    sid       = "DeadLetterWithReason"
    actions   = ["sqs:SendMessage"]
    resources = [module.queue.dlq_arn]
  }

  # Reading from and sending to queues encrypted with a customer key.
  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      sid       = "QueueKey"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value]
    }
  }

  # This deployment's state machines, nothing else.
  statement {
    sid       = "StartOwnWorkflows"
    actions   = ["states:StartExecution"]
    resources = sort(distinct(values(var.state_machine_arns)))
  }

  # Told the name is taken, the starter reads that execution's input: the same input is a
  # repeat (done), another input is a name collision (to the DLQ). Their executions only.
  statement {
    sid       = "DescribeOwnExecutions"
    actions   = ["states:DescribeExecution"]
    resources = sort(distinct([for arn in values(var.state_machine_arns) : "${replace(arn, ":stateMachine:", ":execution:")}:*"]))
  }
}

resource "aws_lambda_event_source_mapping" "this" {
  event_source_arn = module.queue.queue_arn
  function_name    = module.function.function_arn
  enabled          = var.event_source_mapping_enabled

  batch_size                         = var.batch_size
  maximum_batching_window_in_seconds = var.batching_window_seconds

  # The starter answers {"batchItemFailures": [...]}: only the records to retry come back.
  function_response_types = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = var.max_concurrency
  }

  lifecycle {
    precondition {
      condition     = module.function.settings.timeout_seconds >= 30
      error_message = "function.timeout_seconds must be at least 30: the starter keeps its last 15 s for one call and its retry."
    }
    precondition {
      condition     = var.batch_size / local.starts_per_second_per_starter <= module.function.settings.timeout_seconds - local.deadline_margin_seconds
      error_message = "A batch must fit the function's time at each starter's pace: batch_size / (starts_per_second / max_concurrency) must be at most function.timeout_seconds - 15."
    }
    precondition {
      condition     = var.visibility_timeout_seconds >= module.function.settings.timeout_seconds
      error_message = "visibility_timeout_seconds must be at least function.timeout_seconds (AWS rejects the event source mapping otherwise)."
    }
  }
}
