# One CloudWatch dashboard per deployment, and the alarms for the failures that are silent
# otherwise: an execution that failed, timed out or was stopped with nobody watching, a backlog
# about to time tasks out in their queue, an execution running far past its bound (a lost
# callback holding a slot), a semaphore line that stopped moving, a gatekeeper that fails
# without Lambda counting an error, and slots that leaked until a sweep freed them.
#
# The semaphore figures are the ones the gatekeeper logs in CloudWatch's
# embedded metric format (lambda_src/stepqueue_gatekeeper/metrics.py), the running executions
# the watchdog's (modules/watchdog), and the starts the start queue's starter's
# (lambda_src/stepqueue_starter/entry.py `_emit`): namespace `Stepqueue`, dimensioned by the
# emitting function's name, so stages sharing an account stay apart.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  namespace = "Stepqueue" # lambda_src/stepqueue_gatekeeper/metrics.py NAMESPACE
  region    = data.aws_region.current.name
  actions   = var.alarm_sns_topic_arn == null ? [] : [var.alarm_sns_topic_arn]

  room_semaphores = var.semaphores # every semaphore waits in the gatekeeper's waiting room
  has_gatekeeper  = var.gatekeeper_function_name != null && length(local.room_semaphores) > 0
  has_watchdog    = var.watchdog_function_name != null
  start_queues    = var.start_queue == null ? [] : [var.start_queue] # zero or one

  # ---- Alarms: one map, one resource. Each entry is a whole alarm; its key is
  # "<kind>/<subject>" so `var.alarms` can switch a kind off and an address names both. -------

  execution_alarms = merge([
    for kind, metric in {
      executions_failed    = "ExecutionsFailed"
      executions_timed_out = "ExecutionsTimedOut"
      executions_aborted   = "ExecutionsAborted"
      } : {
      for wf, w in var.workflows : "${kind}/${wf}" => {
        name        = "${var.name}-${wf}-${replace(kind, "_", "-")}"
        description = "Executions of ${w.state_machine_name} ${replace(trimprefix(kind, "executions_"), "_", " ")} (${metric} > 0 in ${var.alarm_period_seconds} s)."
        namespace   = "AWS/States"
        metric      = metric
        dimensions  = { StateMachineArn = w.state_machine_arn }
        statistic   = "Sum"
        period      = var.alarm_period_seconds
        threshold   = 0
      }
    }
  ]...)

  # SQS counts a message's age from when it was sent, as Step Functions counts the task's
  # TimeoutSeconds: past the share, the oldest task is that close to timing out unrun.
  queue_age_alarms = {
    for key, wk in var.workers : "queue_age/${key}" => {
      name        = "${var.name}-${wk.workflow}-${wk.worker}-queue-age"
      description = "The oldest message of ${wk.queue_name} is older than ${var.queue_age_share} of its task's TimeoutSeconds (${wk.task_timeout_seconds} s): tasks are about to time out in the queue."
      namespace   = "AWS/SQS"
      metric      = "ApproximateAgeOfOldestMessage"
      dimensions  = { QueueName = wk.queue_name }
      statistic   = "Maximum"
      period      = var.alarm_period_seconds
      threshold   = floor(var.queue_age_share * wk.task_timeout_seconds)
    } if wk.task_timeout_seconds != null
  }

  # The watchdog lists every workflow's RUNNING executions on its schedule, so the alarm fires
  # while the late execution still runs: AWS/States publishes ExecutionTime only when it ends,
  # which a lost callback may never bring.
  running_alarms = {
    for wf, w in var.workflows : "running_too_long/${wf}" => {
      name        = "${var.name}-${wf}-running-too-long"
      description = "An execution of ${w.state_machine_name} has been RUNNING for more than ${w.running_bound_seconds} s (OldestRunningSeconds, from the watchdog)."
      namespace   = local.namespace
      metric      = "OldestRunningSeconds"
      dimensions  = { Function = var.watchdog_function_name, StateMachine = w.state_machine_name }
      statistic   = "Maximum"
      period      = var.sweep_alarm_period_seconds
      threshold   = w.running_bound_seconds
    } if local.has_watchdog
  }

  semaphore_wait_alarms = {
    for name, s in local.room_semaphores : "semaphore_wait/${name}" => {
      name        = "${var.name}-${name}-semaphore-wait"
      description = "The head of semaphore ${name}'s line has waited more than ${var.semaphore_wait_threshold_seconds} s for a slot (OldestWaitSeconds)."
      namespace   = local.namespace
      metric      = "OldestWaitSeconds"
      dimensions  = { Function = var.gatekeeper_function_name, Semaphore = name }
      statistic   = "Maximum"
      period      = var.sweep_alarm_period_seconds
      threshold   = var.semaphore_wait_threshold_seconds
    } if local.has_gatekeeper
  }

  # The gatekeeper reports a failed group in batchItemFailures and returns normally: Lambda's
  # Errors does not see it, so it has its own metric beside the function's Errors.
  error_alarms = merge(
    local.has_gatekeeper ? {
      "errors/gatekeeper" = {
        name        = "${var.name}-gatekeeper-errors"
        description = "The gatekeeper ${var.gatekeeper_function_name} failed invocations (Lambda Errors)."
        namespace   = "AWS/Lambda"
        metric      = "Errors"
        dimensions  = { FunctionName = var.gatekeeper_function_name }
        statistic   = "Sum"
        period      = var.alarm_period_seconds
        threshold   = 0
      }
    } : {},
    {
      for name, s in local.room_semaphores : "errors/gatekeeper-${name}" => {
        name        = "${var.name}-${name}-gatekeeper-failures"
        description = "The gatekeeper failed to decide semaphore ${name}'s messages, sweeps included (GroupFailures): the group is redelivered and the semaphore waits."
        namespace   = local.namespace
        metric      = "GroupFailures"
        dimensions  = { Function = var.gatekeeper_function_name, Semaphore = name }
        statistic   = "Sum"
        period      = var.alarm_period_seconds
        threshold   = 0
      } if local.has_gatekeeper
    },
    {
      for name, s in local.room_semaphores : "errors/gatekeeper-dropped-${name}" => {
        name        = "${var.name}-${name}-gatekeeper-dropped"
        description = "The gatekeeper dropped a message of semaphore ${name} it could not apply (MessagesDropped): a malformed body, a call AWS refused for good, or an execution outside this deployment. The waiter, if any, was failed; the log line 'message dropped' says why."
        namespace   = local.namespace
        metric      = "MessagesDropped"
        dimensions  = { Function = var.gatekeeper_function_name, Semaphore = name }
        statistic   = "Sum"
        period      = var.alarm_period_seconds
        threshold   = 0
      } if local.has_gatekeeper
    },
    local.has_watchdog ? {
      "errors/watchdog" = {
        name        = "${var.name}-watchdog-errors"
        description = "The watchdog ${var.watchdog_function_name} failed invocations (Lambda Errors): no running-too-long alarm can fire meanwhile."
        namespace   = "AWS/Lambda"
        metric      = "Errors"
        dimensions  = { FunctionName = var.watchdog_function_name }
        statistic   = "Sum"
        period      = var.alarm_period_seconds
        threshold   = 0
      }
    } : {},
    # A state machine the watchdog could not list (or listed only in part) is counted on its
    # own line and the run succeeds: Lambda's Errors never sees it.
    {
      for wf, w in var.workflows : "errors/watchdog-${wf}" => {
        name        = "${var.name}-${wf}-watchdog-failures"
        description = "The watchdog could not list all the RUNNING executions of ${w.state_machine_name} (WatchdogErrors): its running-too-long alarm is blind meanwhile."
        namespace   = local.namespace
        metric      = "WatchdogErrors"
        dimensions  = { Function = var.watchdog_function_name, StateMachine = w.state_machine_name }
        statistic   = "Sum"
        period      = var.sweep_alarm_period_seconds
        threshold   = 0
      } if local.has_watchdog
    },
    # A starter that raises (its environment is wrong, a call it cannot survive) gives its whole
    # batch back: nothing starts, and after the queue's receives SQS moves the messages to the
    # start DLQ with no reason. What it refuses or retries itself it counts (DeadLettered,
    # StartRetries): the start DLQ has modules/queue's alarm, and retries are the burst waiting.
    {
      for sq in local.start_queues : "errors/starter" => {
        name        = "${var.name}-starter-errors"
        description = "The starter ${sq.function_name} failed invocations (Lambda Errors): their batches go back to ${sq.queue_name} unstarted."
        namespace   = "AWS/Lambda"
        metric      = "Errors"
        dimensions  = { FunctionName = sq.function_name }
        statistic   = "Sum"
        period      = var.alarm_period_seconds
        threshold   = 0
      }
    },
  )

  # A slot a sweep frees was missed by its release and by the status-change event: something
  # lost a callback or an event, and until that sweep the semaphore ran one slot short.
  leaked_alarms = merge(
    {
      for name, s in local.room_semaphores : "leaked_slots/${name}" => {
        name        = "${var.name}-${name}-leaked-slots"
        description = "A sweep of semaphore ${name} freed slots held by executions no longer RUNNING (LeakedSlotsReclaimed)."
        namespace   = local.namespace
        metric      = "LeakedSlotsReclaimed"
        dimensions  = { Function = var.gatekeeper_function_name, Semaphore = name }
        statistic   = "Sum"
        period      = var.sweep_alarm_period_seconds
        threshold   = 0
      } if local.has_gatekeeper
    },
  )

  all_alarms = merge(
    local.execution_alarms,
    local.queue_age_alarms,
    local.running_alarms,
    local.semaphore_wait_alarms,
    local.error_alarms,
    local.leaked_alarms,
  )
  alarms = { for key, a in local.all_alarms : key => a if contains(var.alarms, split("/", key)[0]) }

  # ---- Dashboard --------------------------------------------------------------------------

  workflow_widgets = flatten([
    for wf, w in var.workflows : concat([
      {
        type = "metric", width = 12, height = 6
        properties = {
          title = "${w.state_machine_name}: executions", region = local.region, view = "timeSeries"
          stat  = "Sum", period = var.alarm_period_seconds
          metrics = [
            for m in ["ExecutionsStarted", "ExecutionsSucceeded", "ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"] :
            ["AWS/States", m, "StateMachineArn", w.state_machine_arn, { label = trimprefix(m, "Executions") }]
          ]
        }
      },
      {
        type = "metric", width = 12, height = 6
        properties = {
          title  = "${w.state_machine_name}: execution time (ms)", region = local.region, view = "timeSeries"
          period = var.alarm_period_seconds
          metrics = [
            for stat in ["Average", "p99", "Maximum"] :
            ["AWS/States", "ExecutionTime", "StateMachineArn", w.state_machine_arn, { stat = stat, label = stat }]
          ]
          annotations = { horizontal = [{ label = "bound", value = w.running_bound_seconds * 1000 }] }
        }
      },
      ], local.has_watchdog ? [
      {
        type = "metric", width = 12, height = 6
        properties = {
          title = "${w.state_machine_name}: running executions and the oldest's age (s)", region = local.region, view = "timeSeries"
          stat  = "Maximum", period = var.sweep_alarm_period_seconds
          metrics = [
            [local.namespace, "RunningExecutions", "Function", var.watchdog_function_name, "StateMachine", w.state_machine_name, { label = "running" }],
            [local.namespace, "OldestRunningSeconds", "Function", var.watchdog_function_name, "StateMachine", w.state_machine_name, { label = "oldest (s)", yAxis = "right" }],
          ]
          annotations = { horizontal = [{ label = "bound", value = w.running_bound_seconds, yAxis = "right" }] }
        }
      },
    ] : [])
  ])

  worker_widgets = flatten([
    for key, wk in var.workers : [
      {
        type = "metric", width = 8, height = 6
        properties = {
          title = "${wk.queue_name}: queue and DLQ depth", region = local.region, view = "timeSeries"
          stat  = "Maximum", period = var.alarm_period_seconds
          metrics = [
            ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", wk.queue_name, { label = "visible" }],
            ["AWS/SQS", "ApproximateNumberOfMessagesNotVisible", "QueueName", wk.queue_name, { label = "in flight" }],
            ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", wk.dlq_name, { label = "DLQ" }],
          ]
        }
      },
      {
        type = "metric", width = 8, height = 6
        properties = {
          title = "${wk.queue_name}: oldest message (s)", region = local.region, view = "timeSeries"
          stat  = "Maximum", period = var.alarm_period_seconds
          metrics = [
            ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", wk.queue_name, { label = "age" }],
          ]
          annotations = {
            horizontal = wk.task_timeout_seconds == null ? [] : [
              { label = "alarm", value = floor(var.queue_age_share * wk.task_timeout_seconds) },
              { label = "task timeout", value = wk.task_timeout_seconds },
            ]
          }
        }
      },
      {
        type = "metric", width = 8, height = 6
        properties = {
          title = "${wk.function_name}: concurrency", region = local.region, view = "timeSeries"
          stat  = "Maximum", period = var.alarm_period_seconds
          metrics = [
            ["AWS/Lambda", "ConcurrentExecutions", "FunctionName", wk.function_name, { label = "concurrent" }],
          ]
          annotations = { horizontal = [{ label = "max concurrency", value = wk.max_concurrency }] }
        }
      },
      {
        type = "metric", width = 12, height = 6
        properties = {
          title = "${wk.function_name}: errors and throttles", region = local.region, view = "timeSeries"
          stat  = "Sum", period = var.alarm_period_seconds
          metrics = [
            ["AWS/Lambda", "Errors", "FunctionName", wk.function_name, { label = "errors" }],
            ["AWS/Lambda", "Throttles", "FunctionName", wk.function_name, { label = "throttles" }],
            ["AWS/Lambda", "Invocations", "FunctionName", wk.function_name, { label = "invocations" }],
          ]
        }
      },
      {
        type = "metric", width = 12, height = 6
        properties = {
          title  = "${wk.function_name}: duration (ms)", region = local.region, view = "timeSeries"
          period = var.alarm_period_seconds
          metrics = [
            for stat in ["Average", "p99", "Maximum"] :
            ["AWS/Lambda", "Duration", "FunctionName", wk.function_name, { stat = stat, label = stat }]
          ]
        }
      },
    ]
  ])

  # The start queue: its backlog, and the starts against the deployment's pace. The pace is per
  # second, and a dashboard may widen a graph's period over a long range, so the starts are
  # drawn per second (Started / PERIOD), not as sums against a bound that holds for one period.
  start_queue_widgets = flatten([
    for sq in local.start_queues : [
      {
        type = "metric", width = 8, height = 6
        properties = {
          title = "${sq.queue_name}: queue and DLQ depth", region = local.region, view = "timeSeries"
          stat  = "Maximum", period = var.alarm_period_seconds
          metrics = [
            ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", sq.queue_name, { label = "visible" }],
            ["AWS/SQS", "ApproximateNumberOfMessagesNotVisible", "QueueName", sq.queue_name, { label = "in flight" }],
            ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", sq.dlq_name, { label = "DLQ" }],
          ]
        }
      },
      {
        type = "metric", width = 8, height = 6
        properties = {
          title = "${sq.queue_name}: oldest message (s)", region = local.region, view = "timeSeries"
          stat  = "Maximum", period = var.alarm_period_seconds
          metrics = [
            ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", sq.queue_name, { label = "age" }],
          ]
        }
      },
      {
        type = "metric", width = 8, height = 6
        properties = {
          title = "${sq.function_name}: starts per second", region = local.region, view = "timeSeries"
          stat  = "Sum", period = var.alarm_period_seconds
          metrics = [
            [{ id = "rate", expression = "started / PERIOD(started)", label = "started per second" }],
            [local.namespace, "Started", "Function", sq.function_name, { id = "started", visible = false }],
          ]
          annotations = { horizontal = [{ label = "starts_per_second (pace bound)", value = sq.starts_per_second }] }
        }
      },
      {
        type = "metric", width = 12, height = 6
        properties = {
          title = "${sq.function_name}: starts, duplicates, retries, dead-lettered", region = local.region, view = "timeSeries"
          stat  = "Sum", period = var.alarm_period_seconds
          metrics = [
            for m in ["Started", "DuplicateSubmissions", "StartRetries", "DeadLettered"] :
            [local.namespace, m, "Function", sq.function_name, { label = m }]
          ]
        }
      },
    ]
  ])

  semaphore_widgets = flatten([
    for name, s in local.room_semaphores : [
      {
        type = "metric", width = 8, height = 6
        properties = {
          title = "semaphore ${name}: holders and limit", region = local.region, view = "timeSeries"
          stat  = "Maximum", period = 60
          metrics = [
            [local.namespace, "Holders", "Function", var.gatekeeper_function_name, "Semaphore", name, { label = "holders" }],
            [local.namespace, "Limit", "Function", var.gatekeeper_function_name, "Semaphore", name, { label = "limit" }],
          ]
        }
      },
      {
        type = "metric", width = 8, height = 6
        properties = {
          title = "semaphore ${name}: waiters and oldest wait (s)", region = local.region, view = "timeSeries"
          stat  = "Maximum", period = 60
          metrics = [
            [local.namespace, "Waiters", "Function", var.gatekeeper_function_name, "Semaphore", name, { label = "waiters" }],
            [local.namespace, "OldestWaitSeconds", "Function", var.gatekeeper_function_name, "Semaphore", name, { label = "oldest wait", yAxis = "right" }],
          ]
        }
      },
      {
        type = "metric", width = 8, height = 6
        properties = {
          title = "semaphore ${name}: decisions", region = local.region, view = "timeSeries"
          stat  = "Sum", period = var.alarm_period_seconds
          metrics = [
            for m in ["Granted", "Released", "Reclaimed", "LeakedSlotsReclaimed", "DeadWaiters", "RedrivesRefused", "GroupFailures", "MessagesDropped"] :
            [local.namespace, m, "Function", var.gatekeeper_function_name, "Semaphore", name, { label = m }]
          ]
        }
      },
    ] if local.has_gatekeeper
  ])

  function_widgets = [
    for fn in compact([
      local.has_gatekeeper ? var.gatekeeper_function_name : null,
      local.has_watchdog ? var.watchdog_function_name : null,
      one(local.start_queues[*].function_name),
      ]) : {
      type = "metric", width = 12, height = 6
      properties = {
        title  = "${fn}: errors, throttles, duration (ms)", region = local.region, view = "timeSeries"
        period = var.alarm_period_seconds
        metrics = [
          ["AWS/Lambda", "Errors", "FunctionName", fn, { stat = "Sum", label = "errors" }],
          ["AWS/Lambda", "Throttles", "FunctionName", fn, { stat = "Sum", label = "throttles" }],
          ["AWS/Lambda", "Duration", "FunctionName", fn, { stat = "Maximum", label = "duration max", yAxis = "right" }],
        ]
      }
    }
  ]

  # Which worker holds which extra permission, one row each, so a reviewer finds them beside the
  # worker's figures. Only when some worker has one: a deployment without them keeps its
  # dashboard as it was. Inside backticks, the "*" of an action or an ARN stays text.
  permission_rows = flatten([
    for key in sort(keys(var.workers)) : concat(
      [for st in var.workers[key].permissions.statements : "| ${key} | statement `${st.sid}` | `${join("`, `", st.actions)}` | `${join("`, `", st.resources)}` |"],
      [for arn in var.workers[key].permissions.managed_policy_arns : "| ${key} | managed policy | (the policy's) | `${arn}` |"],
      [for arn in var.workers[key].permissions.secret_arns : "| ${key} | secret (STEPQUEUE_SECRETS) | read | `${arn}` |"],
    )
  ])
  permission_widgets = length(local.permission_rows) == 0 ? [] : [{
    type = "text", width = 24, height = min(3 + length(local.permission_rows), 30)
    properties = {
      markdown = join("\n", concat([
        "## Extra permissions of the workers (beyond their queue, payloads, logs and task results)",
        "| worker | what | actions | resources |",
        "|---|---|---|---|",
      ], local.permission_rows))
    }
  }]

  # The alarms' ARNs from their names, known at plan time: the dashboard's body is then
  # known too, and a plan shows it whole. An alarm status widget shows at most 100 alarms.
  alarm_arn_prefix = "arn:${data.aws_partition.current.partition}:cloudwatch:${local.region}:${data.aws_caller_identity.current.account_id}:alarm:"
  alarm_widgets = [
    for arns in chunklist(sort([for a in values(local.alarms) : "${local.alarm_arn_prefix}${a.name}"]), 100) : {
      type       = "alarm", width = 24, height = 2 + ceil(length(arns) / 4)
      properties = { title = "alarms", alarms = arns }
    }
  ]
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name
  # The widgets name the alarms by ARN: they exist before the dashboard shows them.
  depends_on = [aws_cloudwatch_metric_alarm.this]

  dashboard_body = jsonencode({
    widgets = concat(
      local.alarm_widgets,
      local.workflow_widgets,
      local.worker_widgets,
      local.start_queue_widgets,
      local.semaphore_widgets,
      local.function_widgets,
      local.permission_widgets,
    )
  })
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = local.alarms

  alarm_name        = each.value.name
  alarm_description = each.value.description

  namespace           = each.value.namespace
  metric_name         = each.value.metric
  dimensions          = each.value.dimensions
  statistic           = each.value.statistic
  period              = each.value.period
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = each.value.threshold
  # No data is no trouble: a workflow that ran nothing failed nothing, an idle semaphore is
  # swept with nothing to free.
  treat_missing_data = "notBreaching"

  alarm_actions = local.actions
  ok_actions    = local.actions

  tags = var.tags
}
