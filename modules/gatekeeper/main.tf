# The semaphore's gatekeeper (docs/design.md §4a): one Lambda function, two kinds of FIFO queue.
# Each semaphore's acquires go to an arrivals queue of its own (`{name}-{semaphore}-arrivals.fifo`,
# one message group); everything else about every semaphore (releases, reclaims, redrives, limit
# changes, ticks, sweeps) goes to the shared control queue (`{name}.fifo`), one message group
# per semaphore. A group has at most one batch in flight, so each semaphore's acquires are
# recorded in arrival order by one invocation at a time, and its grants, frees and limit changes
# decided in order by another. A burst's backlog of acquires sits in its own queue: SQS FIFO
# finds available groups only in the first 120,000 messages of a queue, so a backlog sharing a
# queue would hide the releases and every other semaphore behind it. EventBridge rules are made
# per semaphore and name the group themselves, so no decision about a semaphore is taken
# outside its group.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  queue_name = "${var.name}.fifo"
  dlq_name   = "${var.name}-dlq.fifo"
  use_cmk    = var.kms_key_arn != null

  # The queue's ARN before it exists: the DLQ's redrive allow policy names it while the queue's
  # redrive policy names the DLQ (the same cycle-breaker as modules/queue).
  queue_arn_static = "arn:${data.aws_partition.current.partition}:sqs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:${local.queue_name}"

  state_machine_arns = sort(distinct(flatten([for s in values(var.semaphores) : s.state_machine_arns])))
  # arn:...:stateMachine:NAME -> arn:...:execution:NAME: (the gatekeeper's "own execution"
  # test) and arn:...:execution:NAME:* (what its role may describe and stop).
  execution_prefixes = [for arn in local.state_machine_arns : "${replace(arn, ":stateMachine:", ":execution:")}:"]

  # One batch in flight per message group, two groups per semaphore (its control group and its
  # arrivals'): more concurrency than that is never used. Bounded, so the gatekeeper can never
  # be what exhausts the account's concurrency.
  concurrency = coalesce(try(var.function.reserved_concurrency, null), max(2, 2 * length(var.semaphores)))


  # Only semaphores some state machine uses get event rules (a rule needs a non-empty list).
  watched = { for name, s in var.semaphores : name => s if length(s.state_machine_arns) > 0 }
}

resource "aws_sqs_queue" "dlq" {
  name       = local.dlq_name
  fifo_queue = true

  message_retention_seconds = var.dlq_message_retention_seconds

  sqs_managed_sse_enabled           = local.use_cmk ? null : true
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = local.use_cmk ? var.kms_data_key_reuse_period_seconds : null

  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [local.queue_arn_static]
  })

  tags = var.tags
}

resource "aws_sqs_queue" "this" {
  name       = local.queue_name
  fifo_queue = true
  # EventBridge rules can target a FIFO queue only when it deduplicates by content. Everything
  # else that sends here (the state machines, the gatekeeper, `stepqueue semaphore set`) passes
  # an explicit deduplication id, which takes precedence over the content hash.
  content_based_deduplication = true
  # High throughput: SQS's 300 sends a second apply to each message group, not to the queue,
  # so each semaphore's releases have a quota of their own however many semaphores share the
  # queue. Deduplication ids are then unique per group, as every sender's already are (they
  # name the semaphore).
  deduplication_scope   = "messageGroup"
  fifo_throughput_limit = "perMessageGroupId"

  visibility_timeout_seconds = var.visibility_timeout_seconds
  message_retention_seconds  = var.message_retention_seconds

  sqs_managed_sse_enabled           = local.use_cmk ? null : true
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = local.use_cmk ? var.kms_data_key_reuse_period_seconds : null

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq.arn
    maxReceiveCount     = var.max_receive_count
  })

  tags = var.tags

  lifecycle {
    precondition {
      condition     = var.visibility_timeout_seconds >= module.function.settings.timeout_seconds
      error_message = "visibility_timeout_seconds must be at least function.timeout_seconds (AWS rejects the event source mapping otherwise)."
    }
  }
}

# EventBridge may post to the queue, and only from this module's rules.
data "aws_iam_policy_document" "queue" {
  count = length(local.watched) > 0 ? 1 : 0

  statement {
    sid       = "EventBridgeRules"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.this.arn]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values = sort(concat(
        [for r in aws_cloudwatch_event_rule.ended : r.arn],
        [for r in aws_cloudwatch_event_rule.redriven : r.arn],
        [for r in aws_cloudwatch_event_rule.sweep : r.arn],
      ))
    }
  }
}

resource "aws_sqs_queue_policy" "this" {
  count = length(local.watched) > 0 ? 1 : 0

  queue_url = aws_sqs_queue.this.id
  policy    = data.aws_iam_policy_document.queue[0].json
}

resource "aws_cloudwatch_metric_alarm" "dlq" {
  count = var.create_dlq_alarm ? 1 : 0

  alarm_name        = "${var.name}-dlq-not-empty"
  alarm_description = "Messages in ${local.dlq_name}: the gatekeeper failed ${var.max_receive_count} times on them; an acquire there waits until its time-out, a release until the sweep."

  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dlq.name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"

  alarm_actions = var.alarm_sns_topic_arn == null ? [] : [var.alarm_sns_topic_arn]
  ok_actions    = var.alarm_sns_topic_arn == null ? [] : [var.alarm_sns_topic_arn]

  tags = var.tags
}

module "function" {
  source = "../lambda_function"

  function_name    = var.name
  description      = "stepqueue semaphore gatekeeper: grants, releases and reclaims slots, one semaphore's messages at a time"
  role_description = "stepqueue semaphore gatekeeper ${var.name}"
  lambda_handler   = "stepqueue_gatekeeper.entry.handler"

  policy_name = "stepqueue-gatekeeper"
  policy_json = data.aws_iam_policy_document.this.json

  environment_variables = {
    SEMAPHORE_TABLE        = var.table_name
    GATEKEEPER_QUEUE_URL   = aws_sqs_queue.this.url
    EXECUTION_ARN_PREFIXES = jsonencode(local.execution_prefixes)
    # The initial limits, for a counter item made before limits lived in the table.
    SEMAPHORE_LIMITS = jsonencode({ for name, s in var.semaphores : name => s.limit })
    # Admission rules (per-key limit, rate, aging), only for the semaphores that have any.
    SEMAPHORE_RULES = jsonencode({ for name, s in var.semaphores : name => s.admission if s.admission != null })
  }

  # The module's key and tags reach the function unless its settings say otherwise; its
  # concurrency is the module's to decide.
  settings = merge({ kms_key_arn = var.kms_key_arn }, var.function, {
    reserved_concurrency = local.concurrency
    tags                 = merge(var.tags, try(var.function.tags, {}))
  })
  setting_names = keys(var.function)
}

resource "aws_lambda_event_source_mapping" "this" {
  event_source_arn = aws_sqs_queue.this.arn
  function_name    = module.function.function_arn
  enabled          = var.event_source_mapping_enabled

  # FIFO: no batching window (not supported); a batch holds at most 10 messages.
  batch_size = var.batch_size

  # The gatekeeper answers {"batchItemFailures": [...]} listing every record of a failed group,
  # so the other groups of the batch are not decided twice.
  function_response_types = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = local.concurrency
  }
}

# -- triggers, one set per semaphore, each writing into that semaphore's group ----------------

resource "aws_cloudwatch_event_rule" "ended" {
  for_each = local.watched

  name        = "${var.name}-${each.key}-ended"
  description = "stepqueue: executions holding or awaiting semaphore ${each.key} that ended; the gatekeeper frees a slot only if DescribeExecution agrees"

  event_pattern = jsonencode({
    source        = ["aws.states"]
    "detail-type" = ["Step Functions Execution Status Change"]
    detail = {
      status          = ["FAILED", "TIMED_OUT", "ABORTED"]
      stateMachineArn = sort(each.value.state_machine_arns)
    }
  })

  tags = var.tags

  lifecycle {
    precondition {
      condition     = length("${var.name}-${each.key}-redriven") <= 64
      error_message = "EventBridge rule names are at most 64 characters: shorten the gatekeeper's name or the semaphore's (`{name}-{semaphore}-redriven`)."
    }
  }
}

resource "aws_cloudwatch_event_target" "ended" {
  for_each = local.watched

  rule      = aws_cloudwatch_event_rule.ended[each.key].name
  target_id = "gatekeeper"
  arn       = aws_sqs_queue.this.arn

  sqs_target {
    message_group_id = each.key
  }

  # The event's id in the body: a redelivered event is deduplicated by content, a later event
  # of the same execution (after a redrive) is not.
  input_transformer {
    input_paths = {
      execution = "$.detail.executionArn"
      event     = "$.id"
    }
    input_template = "{\"op\": \"reclaim\", \"semaphore\": \"${each.key}\", \"execution\": <execution>, \"event\": <event>}"
  }

  retry_policy {
    maximum_retry_attempts       = var.event_retry_attempts
    maximum_event_age_in_seconds = var.event_maximum_age_seconds
  }
}

# A redriven execution whose slot was reclaimed must not run its body without one: its
# RUNNING-again event (redriveCount > 0; a first start has 0) makes the gatekeeper stop it
# unless it still holds.
resource "aws_cloudwatch_event_rule" "redriven" {
  for_each = local.watched

  name        = "${var.name}-${each.key}-redriven"
  description = "stepqueue: executions of semaphore ${each.key} running again after a redrive"

  event_pattern = jsonencode({
    source        = ["aws.states"]
    "detail-type" = ["Step Functions Execution Status Change"]
    detail = {
      status          = ["RUNNING"]
      stateMachineArn = sort(each.value.state_machine_arns)
      redriveCount    = [{ numeric = [">", 0] }]
    }
  })

  tags = var.tags
}

resource "aws_cloudwatch_event_target" "redriven" {
  for_each = local.watched

  rule      = aws_cloudwatch_event_rule.redriven[each.key].name
  target_id = "gatekeeper"
  arn       = aws_sqs_queue.this.arn

  sqs_target {
    message_group_id = each.key
  }

  input_transformer {
    input_paths = {
      execution = "$.detail.executionArn"
      event     = "$.id"
    }
    input_template = "{\"op\": \"redriven\", \"semaphore\": \"${each.key}\", \"execution\": <execution>, \"event\": <event>}"
  }

  retry_policy {
    maximum_retry_attempts       = var.event_retry_attempts
    maximum_event_age_in_seconds = var.event_maximum_age_seconds
  }
}

# The sweep catches what no event reports (a missed event, a release never posted, holders of
# removed workflows). The firing time in the body keeps two sweeps from being deduplicated.
resource "aws_cloudwatch_event_rule" "sweep" {
  for_each = var.create_sweep_rules ? local.watched : {}

  name                = "${var.name}-${each.key}-sweep"
  description         = "stepqueue: sweep of semaphore ${each.key}'s holders"
  schedule_expression = var.sweep_schedule_expression

  tags = var.tags
}

resource "aws_cloudwatch_event_target" "sweep" {
  for_each = var.create_sweep_rules ? local.watched : {}

  rule      = aws_cloudwatch_event_rule.sweep[each.key].name
  target_id = "gatekeeper-sweep"
  arn       = aws_sqs_queue.this.arn

  sqs_target {
    message_group_id = each.key
  }

  input_transformer {
    input_paths = {
      at = "$.time"
    }
    input_template = "{\"op\": \"sweep\", \"semaphore\": \"${each.key}\", \"at\": <at>}"
  }
}

# -- arrivals, one queue per semaphore ------------------------------------------------------

# Each semaphore's arrivals queue: the Acquire state's only destination. One message group (the
# semaphore's `NAME:arrivals`), its own DLQ and alarm, its own event source mapping into the
# same function. The gatekeeper decides a message by its group, not by the queue it came from,
# so acquires an earlier version left in the control queue are recorded all the same while it
# drains. The Acquire state passes its own deduplication id, so no content-based deduplication.
module "arrivals" {
  source   = "../queue"
  for_each = var.semaphores

  name = "${var.name}-${each.key}-arrivals"
  fifo = true

  visibility_timeout_seconds    = var.visibility_timeout_seconds
  message_retention_seconds     = var.message_retention_seconds
  dlq_message_retention_seconds = var.dlq_message_retention_seconds
  max_receive_count             = var.max_receive_count

  kms_key_arn                       = var.kms_key_arn
  kms_data_key_reuse_period_seconds = var.kms_data_key_reuse_period_seconds

  create_dlq_alarm         = var.create_dlq_alarm
  dlq_alarm_period_seconds = 60
  dlq_alarm_description    = "Acquires of semaphore ${each.key} the gatekeeper failed ${var.max_receive_count} times to record: their executions wait until max_wait_seconds."
  alarm_sns_topic_arn      = var.alarm_sns_topic_arn

  tags = var.tags
}

resource "aws_lambda_event_source_mapping" "arrivals" {
  for_each = module.arrivals

  event_source_arn = each.value.queue_arn
  function_name    = module.function.function_arn
  enabled          = var.event_source_mapping_enabled

  batch_size              = var.batch_size
  function_response_types = ["ReportBatchItemFailures"]

  # One message group: one batch in flight is all it can use; 2 is the least AWS accepts.
  scaling_config {
    maximum_concurrency = 2
  }

  lifecycle {
    precondition {
      condition     = var.visibility_timeout_seconds >= module.function.settings.timeout_seconds
      error_message = "visibility_timeout_seconds must be at least function.timeout_seconds (AWS rejects the event source mapping otherwise)."
    }
  }
}
