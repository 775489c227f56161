variable "function_name" {
  description = "Name of the watchdog Lambda function (the `Function` dimension of its metrics, and prefix of its schedule rule)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,55}$", var.function_name))
    error_message = "function_name must be 1-55 characters of [A-Za-z0-9_-] (the rule's name appends `-schedule`)."
  }
}

variable "function" {
  description = "The watchdog's settings, passed through to ../lambda_function `settings` (validated there): `zip_path` and `source_code_hash` (required: the same zip as the workers), `timeout_seconds` (at least 10: one run pages through every state machine's RUNNING executions), `tags` (over this module's `tags`), and the rest of `settings`."
  type        = any
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

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.tags : length(k) >= 1 && length(k) <= 128 && length(v) <= 256])
    error_message = "Tag keys must be 1-128 characters and values at most 256."
  }
}
