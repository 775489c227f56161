variable "name" {
  description = "Name of the dashboard and prefix of every alarm name (`{name}-{workflow}-executions-failed`, ...)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,128}$", var.name))
    error_message = "name must be 1-128 characters of [A-Za-z0-9_-] (a dashboard name, and room left in alarm names)."
  }
}

variable "workflows" {
  description = "Workflows by name: the state machine's name and ARN, and `running_bound_seconds`, the run time (from the execution's start, as the watchdog counts it) past which a RUNNING execution is overdue."
  type = map(object({
    state_machine_name    = string
    state_machine_arn     = string
    running_bound_seconds = number
  }))

  validation {
    condition     = alltrue([for w in values(var.workflows) : can(regex("^arn:aws[a-z-]*:states:[a-z0-9-]+:[0-9]{12}:stateMachine:[A-Za-z0-9_-]{1,80}$", w.state_machine_arn))])
    error_message = "state_machine_arn must be a Step Functions state machine ARN."
  }

  validation {
    condition     = alltrue([for w in values(var.workflows) : endswith(w.state_machine_arn, ":stateMachine:${w.state_machine_name}")])
    error_message = "state_machine_name must be the name in state_machine_arn."
  }

  validation {
    condition     = alltrue([for w in values(var.workflows) : w.running_bound_seconds >= 60 && w.running_bound_seconds <= 31536000 && floor(w.running_bound_seconds) == w.running_bound_seconds])
    error_message = "running_bound_seconds must be a whole number from 60 to 31536000 (a Standard execution's year)."
  }
}

variable "workers" {
  description = "Workers by any unique key (the root uses `workflow/worker`): names of the queue, its DLQ and the function, the mapping's maximum concurrency, `task_timeout_seconds`, the shortest TimeoutSeconds of the Worker tasks that queue to it (null: no task uses it, no queue-age alarm), and `permissions`, what the worker may do beyond what stepqueue grants every worker (its own IAM statements, managed policies, and the secrets it reads), listed on the dashboard."
  type = map(object({
    workflow             = string
    worker               = string
    queue_name           = string
    dlq_name             = string
    function_name        = string
    max_concurrency      = number
    task_timeout_seconds = number
    permissions = optional(object({
      statements = optional(list(object({
        sid       = string
        actions   = list(string)
        resources = list(string)
      })), [])
      managed_policy_arns = optional(list(string), [])
      secret_arns         = optional(list(string), [])
    }), {})
  }))
  default = {}

  validation {
    condition = alltrue([for w in values(var.workers) : (
      can(regex("^[A-Za-z0-9_-]{1,80}$", w.queue_name)) && can(regex("^[A-Za-z0-9_-]{1,80}$", w.dlq_name)) &&
      can(regex("^[A-Za-z0-9_-]{1,64}$", w.function_name))
    )])
    error_message = "queue_name and dlq_name must be SQS queue names, function_name a Lambda function name."
  }

  validation {
    condition     = alltrue([for w in values(var.workers) : w.task_timeout_seconds == null || try(w.task_timeout_seconds >= 1 && w.task_timeout_seconds <= 31536000, false)])
    error_message = "task_timeout_seconds must be from 1 to 31536000 (ASL's TimeoutSeconds), or null."
  }

  validation {
    condition     = alltrue([for w in values(var.workers) : w.max_concurrency >= 2 && w.max_concurrency <= 1000])
    error_message = "max_concurrency must be from 2 to 1000 (the event source mapping's range)."
  }
}

variable "semaphores" {
  description = "Semaphores used by the workflows (each waits in the gatekeeper's waiting room), by name, with their initial limit."
  type = map(object({
    limit = number
  }))
  default = {}

  validation {
    condition     = alltrue([for name, s in var.semaphores : can(regex("^[a-z][a-z0-9-]{0,29}$", name))])
    error_message = "Semaphore names must match ^[a-z][a-z0-9-]{0,29}$."
  }
}

variable "gatekeeper_function_name" {
  description = "Name of the gatekeeper function (the `Function` dimension of its metrics), or null when no workflow has a semaphore."
  type        = string
  default     = null

  validation {
    condition     = var.gatekeeper_function_name == null || can(regex("^[A-Za-z0-9_-]{1,64}$", coalesce(var.gatekeeper_function_name, "x")))
    error_message = "gatekeeper_function_name must be a Lambda function name, or null."
  }
}

variable "watchdog_function_name" {
  description = "Name of the watchdog function (modules/watchdog; the `Function` dimension of its metrics), or null: then no running-too-long alarm, since nothing else sees an execution still RUNNING."
  type        = string
  default     = null

  validation {
    condition     = var.watchdog_function_name == null || can(regex("^[A-Za-z0-9_-]{1,64}$", coalesce(var.watchdog_function_name, "x")))
    error_message = "watchdog_function_name must be a Lambda function name, or null."
  }
}

variable "start_queue" {
  description = "The start queue (modules/start_queue), or null when there is none: the names of its queue, its DLQ and the starter function (the `Function` dimension of its metrics), and `starts_per_second`, the deployment's bound on StartExecution calls, drawn on the dashboard against the starts made. The start DLQ's alarm is modules/queue's, not repeated here."
  type = object({
    queue_name        = string
    dlq_name          = string
    function_name     = string
    starts_per_second = number
  })
  default = null

  validation {
    condition = var.start_queue == null || try(
      can(regex("^[A-Za-z0-9_-]{1,80}$", var.start_queue.queue_name)) && can(regex("^[A-Za-z0-9_-]{1,80}$", var.start_queue.dlq_name)) &&
      can(regex("^[A-Za-z0-9_-]{1,64}$", var.start_queue.function_name)) && var.start_queue.queue_name != var.start_queue.dlq_name,
      false,
    )
    error_message = "start_queue's queue_name and dlq_name must be two different SQS queue names, its function_name a Lambda function name."
  }

  validation {
    condition     = var.start_queue == null || try(var.start_queue.starts_per_second >= 1 && var.start_queue.starts_per_second <= 10000, false)
    error_message = "start_queue's starts_per_second must be from 1 to 10000 (modules/start_queue's range)."
  }
}

variable "alarms" {
  description = "The kinds of alarm to create: executions_failed, executions_timed_out, executions_aborted, queue_age, running_too_long, semaphore_wait, errors, leaked_slots. Default: all of them."
  type        = set(string)
  default     = ["executions_failed", "executions_timed_out", "executions_aborted", "queue_age", "running_too_long", "semaphore_wait", "errors", "leaked_slots"]
  nullable    = false

  validation {
    condition     = alltrue([for kind in var.alarms : contains(["executions_failed", "executions_timed_out", "executions_aborted", "queue_age", "running_too_long", "semaphore_wait", "errors", "leaked_slots"], kind)])
    error_message = "alarms may only name executions_failed, executions_timed_out, executions_aborted, queue_age, running_too_long, semaphore_wait, errors and leaked_slots."
  }
}

variable "alarm_sns_topic_arn" {
  description = "SNS topic every alarm notifies when it fires and when it clears. null: the alarms exist, show their state in the console and on the dashboard, and notify nobody."
  type        = string
  default     = null

  validation {
    condition     = var.alarm_sns_topic_arn == null || can(regex("^arn:aws[a-z-]*:sns:", coalesce(var.alarm_sns_topic_arn, "x")))
    error_message = "alarm_sns_topic_arn must be an SNS topic ARN, or null."
  }
}

variable "queue_age_share" {
  description = "The queue-age alarm fires when a queue's oldest message is older than this share of its task's TimeoutSeconds."
  type        = number
  default     = 0.5
  nullable    = false

  validation {
    condition     = var.queue_age_share > 0 && var.queue_age_share < 1
    error_message = "queue_age_share must be between 0 and 1, both excluded."
  }
}

variable "semaphore_wait_threshold_seconds" {
  description = "The semaphore-wait alarm fires when the head of a waiting room's line has waited longer than this."
  type        = number
  default     = 900
  nullable    = false

  validation {
    condition     = var.semaphore_wait_threshold_seconds >= 1 && floor(var.semaphore_wait_threshold_seconds) == var.semaphore_wait_threshold_seconds
    error_message = "semaphore_wait_threshold_seconds must be a whole number >= 1."
  }
}

variable "alarm_period_seconds" {
  description = "Period of the alarms on AWS metrics, and of the dashboard's graphs."
  type        = number
  default     = 300
  nullable    = false

  validation {
    condition     = var.alarm_period_seconds >= 60 && var.alarm_period_seconds <= 86400 && var.alarm_period_seconds % 60 == 0
    error_message = "alarm_period_seconds must be a multiple of 60 from 60 to 86400."
  }
}

variable "sweep_alarm_period_seconds" {
  description = "Period of the alarms on what the sweeps and the watchdog report (leaked slots, sweep errors, oldest running execution) and on the oldest wait: at least their schedule, so that every period holds a run."
  type        = number
  default     = 900
  nullable    = false

  validation {
    condition     = var.sweep_alarm_period_seconds >= 60 && var.sweep_alarm_period_seconds <= 86400 && var.sweep_alarm_period_seconds % 60 == 0
    error_message = "sweep_alarm_period_seconds must be a multiple of 60 from 60 to 86400."
  }
}

variable "tags" {
  description = "Tags for every alarm (dashboards take none)."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.tags : length(k) >= 1 && length(k) <= 128 && length(v) <= 256])
    error_message = "Tag keys must be 1-128 characters and values at most 256."
  }
}
