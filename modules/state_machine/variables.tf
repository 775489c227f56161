variable "name" {
  description = "Name of the state machine."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,80}$", var.name))
    error_message = "State machine names are 1-80 characters of [A-Za-z0-9_-]."
  }
}

variable "definition" {
  description = "The rendered Amazon States Language definition (JSON)."
  type        = string

  validation {
    condition     = can(jsondecode(var.definition).StartAt) && can(jsondecode(var.definition).States)
    error_message = "definition must be ASL JSON with StartAt and States."
  }
}

variable "type" {
  description = "STANDARD or EXPRESS. The task-token callback pattern needs STANDARD."
  type        = string
  default     = "STANDARD"

  validation {
    condition     = contains(["STANDARD", "EXPRESS"], var.type)
    error_message = "type must be STANDARD or EXPRESS."
  }
}

variable "role_name" {
  description = "Name of the IAM role. Defaults to `<name>-sfn`."
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

variable "queue_arns" {
  description = "ARNs of the worker queues the state machine sends tasks to (the only queues it may send to)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.queue_arns : can(regex("^arn:aws[a-z-]*:sqs:", a))])
    error_message = "queue_arns must be SQS queue ARNs."
  }
}

variable "queue_kms_key_arn" {
  description = "Customer KMS key of the queues (grants kms:GenerateDataKey and kms:Decrypt on it), or null."
  type        = string
  default     = null
}

variable "additional_policy_statements" {
  description = "Extra statements for the role (for user Task states that call other services)."
  type = list(object({
    sid       = string
    actions   = list(string)
    resources = list(string)
  }))
  default = []
}

variable "logging_level" {
  description = "Execution logging level."
  type        = string
  default     = "ERROR"

  validation {
    condition     = contains(["ALL", "ERROR", "FATAL", "OFF"], var.logging_level)
    error_message = "logging_level must be ALL, ERROR, FATAL or OFF."
  }
}

variable "include_execution_data" {
  description = "Log execution input/output. Off by default: it puts workflow payloads into the logs."
  type        = bool
  default     = false
}

variable "tracing_enabled" {
  description = "X-Ray tracing."
  type        = bool
  default     = true
}

variable "log_group_name" {
  description = "Name of the log group. Defaults to `/aws/vendedlogs/states/<name>` (the vendedlogs prefix keeps the logs resource policy small)."
  type        = string
  default     = null
}

variable "log_retention_days" {
  description = "Retention of the log group."
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

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
