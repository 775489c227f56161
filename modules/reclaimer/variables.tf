# The settings handed to ../lambda_function unchanged are validated there, once.

variable "function_name" {
  description = "Name of the reclaimer Lambda function (and prefix of its rules)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,50}$", var.function_name))
    error_message = "function_name must be 1-50 characters of [A-Za-z0-9_-] (rule names append `-status-change`)."
  }
}

variable "role_name" {
  description = "Name of the IAM role. Defaults to the function name."
  type        = string
  default     = null
}

variable "role_permissions_boundary" {
  description = "ARN of a permissions boundary for the role, or null."
  type        = string
  default     = null
}

variable "lambda_handler" {
  description = "The reclaimer's entry point inside the zip."
  type        = string
  default     = "stepqueue_reclaimer.entry.handler"
}

variable "zip_path" {
  description = "Path of the Lambda zip (the same zip as the workers)."
  type        = string
}

variable "source_code_hash" {
  description = "Base64 SHA-256 of the zip (the content of `<zip>.sha256`)."
  type        = string
}

variable "runtime" {
  description = "Lambda runtime."
  type        = string
  default     = "python3.12"
}

variable "architecture" {
  description = "Instruction set of the function."
  type        = string
  default     = "x86_64"
}

variable "timeout_seconds" {
  description = "Lambda timeout (a sweep describes every holder's execution)."
  type        = number
  default     = 120
}

variable "memory_mb" {
  description = "Lambda memory size in MB."
  type        = number
  default     = 256
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions, or null for none."
  type        = number
  default     = null
}

variable "environment_variables" {
  description = "Extra environment variables (SEMAPHORE_TABLE is always set from `table_name`)."
  type        = map(string)
  default     = {}
}

variable "kms_key_arn" {
  description = "Customer KMS key for the function's environment variables, or null."
  type        = string
  default     = null
}

variable "tracing_mode" {
  description = "X-Ray tracing mode."
  type        = string
  default     = "Active"
}

variable "log_retention_days" {
  description = "Retention of the function's log group."
  type        = number
  default     = 365
}

variable "log_kms_key_arn" {
  description = "Customer KMS key for the log group, or null."
  type        = string
  default     = null
}

variable "table_name" {
  description = "Name of the semaphore table (SEMAPHORE_TABLE)."
  type        = string
}

variable "table_arn" {
  description = "ARN of the semaphore table."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:dynamodb:", var.table_arn))
    error_message = "table_arn must be a DynamoDB table ARN."
  }
}

variable "table_kms_key_arn" {
  description = "Customer KMS key of the table, or null."
  type        = string
  default     = null
}

variable "state_machine_arns" {
  description = "ARNs of the state machines whose executions hold slots: the status-change rule matches only these, and DescribeExecution is allowed only on their executions."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.state_machine_arns : can(regex("^arn:aws[a-z-]*:states:[^:]+:[0-9]+:stateMachine:[A-Za-z0-9_-]+$", a))])
    error_message = "state_machine_arns must be unqualified state machine ARNs."
  }
}

variable "create_status_change_rule" {
  description = "Create the EventBridge rule on FAILED / TIMED_OUT / ABORTED executions (only when state_machine_arns is not empty)."
  type        = bool
  default     = true
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

variable "create_sweep_rule" {
  description = "Create the scheduled sweep rule."
  type        = bool
  default     = true
}

variable "sweep_schedule_expression" {
  description = "Schedule of the sweep."
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
