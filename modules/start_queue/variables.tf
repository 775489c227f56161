# The settings handed to ../lambda_function and ../queue unchanged are validated here too, so
# a wrong value names this module's variable.

variable "queue_name" {
  description = "Name of the start queue; its DLQ is `{queue_name}-dlq`."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,76}$", var.queue_name))
    error_message = "queue_name must be 1-76 characters of [A-Za-z0-9_-] (the DLQ appends `-dlq` within SQS's 80)."
  }
}

variable "function_name" {
  description = "Name of the starter Lambda function (the `Function` dimension of its metrics)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.function_name))
    error_message = "function_name must be 1-64 characters of [A-Za-z0-9_-]."
  }
}

variable "state_machine_arns" {
  description = "The workflows the start queue may start, by workflow name (the `workflow` of a message): state machine ARNs, static ones will do. The starter may StartExecution on these only; a message naming another workflow goes to the DLQ."
  type        = map(string)

  validation {
    condition     = length(var.state_machine_arns) >= 1 && length(var.state_machine_arns) <= 200
    error_message = "state_machine_arns must hold 1 to 200 workflows (stepqueue_starter.entry.MAX_WORKFLOWS)."
  }

  validation {
    condition     = alltrue([for name in keys(var.state_machine_arns) : can(regex("^[a-z][a-z0-9-]{0,29}$", name))])
    error_message = "Workflow names must match ^[a-z][a-z0-9-]{0,29}$ (a spec's name)."
  }

  validation {
    condition     = alltrue([for arn in values(var.state_machine_arns) : can(regex("^arn:aws[a-z-]*:states:[a-z0-9-]+:[0-9]{12}:stateMachine:[A-Za-z0-9_-]{1,80}$", arn))])
    error_message = "state_machine_arns values must be unqualified state machine ARNs."
  }

  validation {
    # The function's environment is 4 KB in all.
    condition     = length(jsonencode(var.state_machine_arns)) <= 3000
    error_message = "Too many workflows for the starter's environment (the map must fit about 3 KB as JSON)."
  }
}

variable "starts_per_second" {
  description = "The most StartExecution calls per second the start queue makes, all starters together. AWS's default StartExecution quota for standard workflows is a bucket of 1,300 refilled at 300 per second in us-east-1, us-west-2 and eu-west-1, 800 refilled at 150 elsewhere, shared by every caller in the account and region: stay under the refill rate, with room for other callers."
  type        = number
  default     = 100

  validation {
    condition     = var.starts_per_second >= 1 && var.starts_per_second <= 10000
    error_message = "starts_per_second must be from 1 to 10000."
  }
}

variable "max_concurrency" {
  description = "Starters at most (the event source mapping's maximum concurrency, also reserved for the function). Each paces itself at starts_per_second / max_concurrency."
  type        = number
  default     = 5

  validation {
    condition     = var.max_concurrency >= 2 && var.max_concurrency <= 1000 && floor(var.max_concurrency) == var.max_concurrency
    error_message = "max_concurrency must be a whole number from 2 to 1000 (an event source mapping's maximum concurrency)."
  }
}

variable "batch_size" {
  description = "Messages per invocation (standard queue). A batch must fit the function's time at each starter's pace."
  type        = number
  default     = 10

  validation {
    condition     = var.batch_size >= 1 && var.batch_size <= 100 && floor(var.batch_size) == var.batch_size
    error_message = "batch_size must be a whole number from 1 to 100."
  }
}

variable "batching_window_seconds" {
  description = "How long the mapping gathers a batch. 0: a submission starts as soon as a starter is free."
  type        = number
  default     = 0

  validation {
    condition     = var.batching_window_seconds >= 0 && var.batching_window_seconds <= 300 && floor(var.batching_window_seconds) == var.batching_window_seconds
    error_message = "batching_window_seconds must be a whole number from 0 to 300."
  }
}

variable "max_receive_count" {
  description = "Receives of a message before SQS moves it to the DLQ. The starter tries max_receive_count - 1 of them and then moves it itself, with the reason; the last is kept for an invocation that dies. High, so a long stretch at the open-execution quota is waited out: with the 300 s retry cap, 50 receives wait about 4 hours."
  type        = number
  default     = 50

  validation {
    condition     = var.max_receive_count >= 2 && var.max_receive_count <= 1000 && floor(var.max_receive_count) == var.max_receive_count
    error_message = "max_receive_count must be a whole number from 2 to 1000 (one receive is kept in reserve)."
  }
}

variable "max_retry_delay_seconds" {
  description = "Longest wait before a throttled or failed start is tried again: the delay doubles from 1 s by receive up to this."
  type        = number
  default     = 300

  validation {
    condition     = var.max_retry_delay_seconds >= 1 && var.max_retry_delay_seconds <= 43200 && floor(var.max_retry_delay_seconds) == var.max_retry_delay_seconds
    error_message = "max_retry_delay_seconds must be a whole number from 1 to 43200 (SQS's 12 hours)."
  }
}

variable "visibility_timeout_seconds" {
  description = "Visibility timeout of the start queue: at least timeout_seconds. A record of an invocation that died comes back after it."
  type        = number
  default     = 360

  validation {
    condition     = var.visibility_timeout_seconds >= 1 && var.visibility_timeout_seconds <= 43200 && floor(var.visibility_timeout_seconds) == var.visibility_timeout_seconds
    error_message = "visibility_timeout_seconds must be a whole number from 1 to 43200."
  }
}

variable "message_retention_seconds" {
  description = "How long a submission may wait in the start queue (SQS's maximum, 14 days, by default: a burst is absorbed, not dropped)."
  type        = number
  default     = 1209600

  validation {
    condition     = var.message_retention_seconds >= 60 && var.message_retention_seconds <= 1209600
    error_message = "message_retention_seconds must be from 60 to 1209600."
  }
}

variable "dlq_message_retention_seconds" {
  description = "Retention of the start DLQ's messages."
  type        = number
  default     = 1209600

  validation {
    condition     = var.dlq_message_retention_seconds >= 60 && var.dlq_message_retention_seconds <= 1209600
    error_message = "dlq_message_retention_seconds must be from 60 to 1209600."
  }
}

variable "event_source_mapping_enabled" {
  description = "Whether the event source mapping polls. false against the emulator (it cannot run Lambda: the local runner polls instead)."
  type        = bool
  default     = true
}

variable "function" {
  description = "The starter's settings, passed through to ../lambda_function `settings` (validated there): `zip_path` and `source_code_hash` (required: the same zip as the workers), `timeout_seconds` (at least 30: the starter starts no call in its last 15 s, one call with its retry fits there, and gives the records left back to the queue), `log_retention_days` (its log group also holds its metric lines), `kms_key_arn` (default: this module's `kms_key_arn`), `tags` (over this module's `tags`), and the rest of `settings`. Its reserved concurrency is `max_concurrency`."
  type        = any
}

variable "kms_key_arn" {
  description = "Customer KMS key for both queues and the function's environment, or null (SQS-managed SSE, AWS-managed key)."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", coalesce(var.kms_key_arn, "x")))
    error_message = "kms_key_arn must be a KMS key ARN, or null."
  }
}

variable "create_dlq_alarm" {
  description = "Create a CloudWatch alarm on any message in the start DLQ."
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

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.tags : length(k) >= 1 && length(k) <= 128 && length(v) <= 256])
    error_message = "Tag keys must be 1-128 characters and values at most 256."
  }
}
