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

  validation {
    condition     = var.role_name == null || can(regex("^[\\w+=,.@-]{1,64}$", coalesce(var.role_name, "x")))
    error_message = "IAM role names are 1-64 characters of [A-Za-z0-9_+=,.@-]."
  }
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

  validation {
    condition     = can(regex("^[A-Za-z0-9+/]{43}=$", var.source_code_hash))
    error_message = "source_code_hash must be a base64-encoded SHA-256 (44 characters ending with '=')."
  }
}

variable "runtime" {
  description = "Lambda runtime."
  type        = string
  default     = "python3.12"

  validation {
    condition     = can(regex("^python3\\.(1[1-9])$", var.runtime))
    error_message = "The reclaimer needs python3.11 or later."
  }
}

variable "architecture" {
  description = "Instruction set of the function."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture must be x86_64 or arm64."
  }
}

variable "timeout_seconds" {
  description = "Lambda timeout (a sweep describes every holder's execution)."
  type        = number
  default     = 120

  validation {
    condition     = var.timeout_seconds >= 1 && var.timeout_seconds <= 900 && floor(var.timeout_seconds) == var.timeout_seconds
    error_message = "timeout_seconds must be a whole number from 1 to 900."
  }
}

variable "memory_mb" {
  description = "Lambda memory size in MB."
  type        = number
  default     = 256

  validation {
    condition     = var.memory_mb >= 128 && var.memory_mb <= 10240 && floor(var.memory_mb) == var.memory_mb
    error_message = "memory_mb must be a whole number from 128 to 10240."
  }
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions, or null for none."
  type        = number
  default     = null

  validation {
    condition     = var.reserved_concurrency == null || try(var.reserved_concurrency >= 0 && floor(var.reserved_concurrency) == var.reserved_concurrency, false)
    error_message = "reserved_concurrency must be a whole number >= 0, or null."
  }
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

  validation {
    condition     = contains(["Active", "PassThrough"], var.tracing_mode)
    error_message = "tracing_mode must be Active or PassThrough."
  }
}

variable "log_retention_days" {
  description = "Retention of the function's log group."
  type        = number
  default     = 365

  validation {
    condition     = contains([0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (0 = never expire, 1, 3, 5, 7, 14, 30, ..., 365, ..., 3653)."
  }
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
