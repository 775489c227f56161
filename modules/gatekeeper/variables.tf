# The settings handed to ../lambda_function unchanged are validated there, once.

variable "name" {
  description = "Name of the gatekeeper function, of its role by default, of its control queue (`{name}.fifo`, DLQ `{name}-dlq.fifo`), prefix of each semaphore's arrivals queue (`{name}-{semaphore}-arrivals.fifo`, DLQ `{name}-{semaphore}-arrivals-dlq.fifo`) and of its rules (`{name}-{semaphore}-ended|redriven|sweep`)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,60}$", var.name))
    error_message = "name must be 1-60 characters of [A-Za-z0-9_-] (the DLQ appends `-dlq.fifo` within SQS's 80)."
  }
}

variable "semaphores" {
  description = "The waiting-room semaphores this gatekeeper serves, by name: the initial `limit` (the table's counter item holds the one in force), the optional `admission` rules (per-key limit, rate per second and burst, priority aging in seconds) and the ARNs of the state machines whose executions wait for or hold it (they need not exist yet)."
  type = map(object({
    limit              = number
    state_machine_arns = list(string)
    admission = optional(object({
      key_limit     = optional(number)
      rate          = optional(number)
      burst         = optional(number)
      aging_seconds = optional(number)
    }))
  }))

  validation {
    condition     = length(var.semaphores) > 0
    error_message = "A gatekeeper serves at least one semaphore."
  }

  validation {
    condition     = alltrue([for name in keys(var.semaphores) : can(regex("^[a-z][a-z0-9-]{0,29}$", name))])
    error_message = "Semaphore names must match ^[a-z][a-z0-9-]{0,29}$ (they are message group ids and item keys)."
  }

  validation {
    # The limit lives in a small counter item, so no item size bounds it; what one message
    # group can serve does. The generator and the gatekeeper check the same 100000.
    condition     = alltrue([for s in values(var.semaphores) : s.limit >= 1 && s.limit <= 100000 && floor(s.limit) == s.limit])
    error_message = "Each waiting-room limit must be a whole number from 1 to 100000."
  }

  validation {
    # The gatekeeper's own bounds (lambda_src/stepqueue_gatekeeper/rules.py): it refuses to
    # start with rules outside them, so they are refused here, at plan time.
    condition = alltrue([for s in values(var.semaphores) : s.admission == null ? true : alltrue([
      s.admission.key_limit == null || try(s.admission.key_limit >= 1 && s.admission.key_limit <= s.limit && floor(s.admission.key_limit) == s.admission.key_limit, false),
      s.admission.rate == null || try(s.admission.rate >= 0.001 && s.admission.rate <= 10000, false),
      s.admission.burst == null || try(s.admission.burst >= 1 && s.admission.burst <= 100000 && floor(s.admission.burst) == s.admission.burst, false),
      s.admission.aging_seconds == null || try(s.admission.aging_seconds >= 1 && s.admission.aging_seconds <= 86400 && floor(s.admission.aging_seconds) == s.admission.aging_seconds, false),
    ])])
    error_message = "admission: key_limit a whole number from 1 to the limit, rate 0.001..10000 per second, burst 1..100000, aging_seconds 1..86400."
  }

  validation {
    condition     = alltrue(flatten([for s in values(var.semaphores) : [for arn in s.state_machine_arns : can(regex("^arn:aws[a-z-]*:states:[a-z0-9-]+:[0-9]{12}:stateMachine:[A-Za-z0-9_-]{1,80}$", arn))]]))
    error_message = "state_machine_arns must be Step Functions state machine ARNs."
  }

  validation {
    # The function's environment (4 KB in all) carries one execution prefix per state machine.
    condition     = length(jsonencode(distinct(flatten([for s in values(var.semaphores) : s.state_machine_arns])))) <= 3000
    error_message = "Too many state machines for one gatekeeper's environment (their ARNs must fit about 3 KB)."
  }
}

variable "table_name" {
  description = "Name of the semaphore table (modules/semaphore), which must have the `holders` index."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{3,255}$", var.table_name))
    error_message = "DynamoDB table names are 3-255 characters of [A-Za-z0-9_.-]."
  }
}

variable "table_arn" {
  description = "ARN of the semaphore table."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:[0-9]{12}:table/[A-Za-z0-9_.-]{3,255}$", var.table_arn))
    error_message = "table_arn must be a DynamoDB table ARN."
  }
}

variable "table_kms_key_arn" {
  description = "Customer KMS key of the table, or null."
  type        = string
  default     = null

  validation {
    condition     = var.table_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", coalesce(var.table_kms_key_arn, "x")))
    error_message = "table_kms_key_arn must be a KMS key ARN, or null."
  }
}

variable "function" {
  description = "The function's settings, passed through to ../lambda_function `settings` (validated there): `zip_path` and `source_code_hash` (required: the same zip as the workers), `timeout_seconds` (one invocation decides a batch, sends its grants and pages through at most one sweep step; the group waits behind it), `reserved_concurrency` (also the event source mapping's maximum concurrency; null: max(2, twice the number of semaphores), since a message group has at most one batch in flight and each semaphore has two, its own and its arrivals'), `kms_key_arn` (default: this module's `kms_key_arn`), `tags` (over this module's `tags`), and the rest of `settings`."
  type        = any

  validation {
    condition     = try(var.function.reserved_concurrency, null) == null || try(var.function.reserved_concurrency >= 2 && var.function.reserved_concurrency <= 1000 && floor(var.function.reserved_concurrency) == var.function.reserved_concurrency, false)
    error_message = "function.reserved_concurrency must be a whole number from 2 to 1000 (an event source mapping's maximum concurrency), or null."
  }
}

variable "batch_size" {
  description = "Messages per invocation (a FIFO queue allows at most 10). A batch is decided in one transaction per step, so larger batches mean fewer counter writes."
  type        = number
  default     = 10

  validation {
    condition     = var.batch_size >= 1 && var.batch_size <= 10 && floor(var.batch_size) == var.batch_size
    error_message = "batch_size must be a whole number from 1 to 10 (FIFO queues)."
  }
}

variable "event_source_mapping_enabled" {
  description = "Whether the event source mapping polls. false against the emulator (it cannot run Lambda: the local runner polls instead)."
  type        = bool
  default     = true
}

variable "visibility_timeout_seconds" {
  description = "Visibility timeout of the queue: at least timeout_seconds. A failed group's messages come back after it, and the group waits that long."
  type        = number
  default     = 360

  validation {
    condition     = var.visibility_timeout_seconds >= 1 && var.visibility_timeout_seconds <= 43200 && floor(var.visibility_timeout_seconds) == var.visibility_timeout_seconds
    error_message = "visibility_timeout_seconds must be a whole number from 1 to 43200."
  }
}

variable "message_retention_seconds" {
  description = "Retention of the queue's messages (an arrival is turned into a waiter item at once, so this bounds only a backlog)."
  type        = number
  default     = 1209600

  validation {
    condition     = var.message_retention_seconds >= 60 && var.message_retention_seconds <= 1209600
    error_message = "message_retention_seconds must be from 60 to 1209600."
  }
}

variable "max_receive_count" {
  description = "Receives before a message moves to the DLQ. High: the group is blocked while it retries, but a message in the DLQ is a waiter left waiting until its time-out or a slot left to the sweep."
  type        = number
  default     = 100

  validation {
    condition     = var.max_receive_count >= 1 && var.max_receive_count <= 1000 && floor(var.max_receive_count) == var.max_receive_count
    error_message = "max_receive_count must be a whole number from 1 to 1000."
  }
}

variable "dlq_message_retention_seconds" {
  description = "Retention of the dead-letter queue's messages."
  type        = number
  default     = 1209600

  validation {
    condition     = var.dlq_message_retention_seconds >= 60 && var.dlq_message_retention_seconds <= 1209600
    error_message = "dlq_message_retention_seconds must be from 60 to 1209600."
  }
}

variable "kms_key_arn" {
  description = "Customer KMS key for the queues and the function's environment, or null (SQS-managed SSE, AWS-managed key). Its key policy must let events.amazonaws.com use it for the rules to post."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", coalesce(var.kms_key_arn, "x")))
    error_message = "kms_key_arn must be a KMS key ARN, or null."
  }
}

variable "kms_data_key_reuse_period_seconds" {
  description = "How long SQS reuses a data key of the customer key (only with kms_key_arn)."
  type        = number
  default     = 300

  validation {
    condition     = var.kms_data_key_reuse_period_seconds >= 60 && var.kms_data_key_reuse_period_seconds <= 86400
    error_message = "kms_data_key_reuse_period_seconds must be from 60 to 86400."
  }
}

variable "create_dlq_alarm" {
  description = "Create a CloudWatch alarm on any message in the DLQ."
  type        = bool
  default     = true
}

variable "alarm_sns_topic_arn" {
  description = "SNS topic notified by the DLQ alarm, or null."
  type        = string
  default     = null

  validation {
    condition     = var.alarm_sns_topic_arn == null || can(regex("^arn:aws[a-z-]*:sns:", coalesce(var.alarm_sns_topic_arn, "x")))
    error_message = "alarm_sns_topic_arn must be an SNS topic ARN, or null."
  }
}

variable "event_retry_attempts" {
  description = "EventBridge retries of a failed status-change delivery."
  type        = number
  default     = 185

  validation {
    condition     = var.event_retry_attempts >= 0 && var.event_retry_attempts <= 185
    error_message = "event_retry_attempts must be from 0 to 185."
  }
}

variable "event_maximum_age_seconds" {
  description = "How long EventBridge keeps retrying a status-change delivery."
  type        = number
  default     = 3600

  validation {
    condition     = var.event_maximum_age_seconds >= 60 && var.event_maximum_age_seconds <= 86400
    error_message = "event_maximum_age_seconds must be from 60 to 86400."
  }
}

variable "create_sweep_rules" {
  description = "Create the scheduled sweep of every semaphore."
  type        = bool
  default     = true
}

variable "sweep_schedule_expression" {
  description = "Schedule of the sweeps."
  type        = string
  default     = "rate(5 minutes)"

  validation {
    condition     = can(regex("^(rate\\([1-9][0-9]* (minute|minutes|hour|hours|day|days)\\)|cron\\(.+\\))$", var.sweep_schedule_expression))
    error_message = "sweep_schedule_expression must be rate(N unit) or cron(...)."
  }
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
