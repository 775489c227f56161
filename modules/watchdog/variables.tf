variable "function_name" {
  description = "Name of the watchdog Lambda function (the `Function` dimension of its metrics, and prefix of its schedule rule)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,55}$", var.function_name))
    error_message = "function_name must be 1-55 characters of [A-Za-z0-9_-] (the rule's name appends `-schedule`)."
  }
}

variable "role_name" {
  description = "Name of the IAM role. Defaults to the function name."
  type        = string
  default     = null

  validation {
    condition     = var.role_name == null || can(regex("^[\\w+=,.@-]{1,64}$", coalesce(var.role_name, "x")))
    error_message = "role_name must be 1-64 characters of [A-Za-z0-9_+=,.@-], or null."
  }
}

variable "role_permissions_boundary" {
  description = "ARN of a permissions boundary for the role, or null."
  type        = string
  default     = null

  validation {
    condition     = var.role_permissions_boundary == null || can(regex("^arn:aws[a-z-]*:iam::", coalesce(var.role_permissions_boundary, "x")))
    error_message = "role_permissions_boundary must be an IAM policy ARN, or null."
  }
}

variable "lambda_handler" {
  description = "The watchdog's entry point inside the zip."
  type        = string
  default     = "stepqueue_watchdog.entry.handler"

  validation {
    condition     = can(regex("^[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)+$", var.lambda_handler))
    error_message = "lambda_handler must be a dotted Python path: module(s) then function."
  }
}

variable "zip_path" {
  description = "Path of the Lambda zip (the same zip as the workers)."
  type        = string

  validation {
    condition     = endswith(var.zip_path, ".zip")
    error_message = "zip_path must be the path of a .zip file."
  }
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
    error_message = "The stepqueue zip needs python3.11 or later."
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
  description = "Lambda timeout. The function stops starting ListExecutions calls 5 s before it, so a state machine it had no time for is counted in `WatchdogErrors`, never cut off silently."
  type        = number
  default     = 60

  validation {
    condition     = var.timeout_seconds >= 10 && var.timeout_seconds <= 900 && floor(var.timeout_seconds) == var.timeout_seconds
    error_message = "timeout_seconds must be a whole number from 10 to 900 (the function keeps 5 s back)."
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

variable "state_machine_arns" {
  description = "ARNs of the state machines to watch (static ARNs built from names will do: the state machines need not exist yet). The function may ListExecutions on these only."
  type        = list(string)

  validation {
    condition     = length(var.state_machine_arns) >= 1 && length(var.state_machine_arns) <= 200
    error_message = "state_machine_arns must hold 1 to 200 ARNs (the function's own bound, stepqueue_watchdog.entry.MAX_STATE_MACHINES)."
  }

  validation {
    condition     = alltrue([for a in var.state_machine_arns : can(regex("^arn:aws[a-z-]*:states:[a-z0-9-]+:[0-9]{12}:stateMachine:[A-Za-z0-9_-]{1,80}$", a))])
    error_message = "state_machine_arns must be unqualified state machine ARNs."
  }
}

variable "schedule_expression" {
  description = "Schedule of the watchdog. The running-too-long alarm's period should hold at least one run."
  type        = string
  default     = "rate(5 minutes)"

  validation {
    condition     = can(regex("^(rate\\([1-9][0-9]* (minute|minutes|hour|hours|day|days)\\)|cron\\(.+\\))$", var.schedule_expression))
    error_message = "schedule_expression must be rate(N unit) or cron(...)."
  }
}

variable "kms_key_arn" {
  description = "Customer KMS key for the function's environment variables, or null."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", coalesce(var.kms_key_arn, "x")))
    error_message = "kms_key_arn must be a KMS key ARN, or null."
  }
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
  description = "Retention of the function's log group (which also holds its metric lines)."
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

  validation {
    condition     = var.log_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", coalesce(var.log_kms_key_arn, "x")))
    error_message = "log_kms_key_arn must be a KMS key ARN, or null."
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
