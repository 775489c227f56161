variable "name" {
  description = "Name of the semaphore table."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{3,255}$", var.name))
    error_message = "DynamoDB table names are 3-255 characters of [A-Za-z0-9_.-]."
  }
}

variable "semaphores" {
  description = "Semaphores to pre-create, by name, with their `mode` (`polling` or `waiting_room`, the default `polling` being that of tfvars written before modes existed). A polling limit is not stored (the state machine carries it): 1 to 814. A waiting-room limit is the counter item's initial limit: 1 to 100000."
  type = map(object({
    limit = number
    mode  = optional(string, "polling")
  }))
  default = {}

  validation {
    condition     = alltrue([for k, v in var.semaphores : can(regex("^[a-z][a-z0-9-]{0,29}$", k))])
    error_message = "Semaphore names must match ^[a-z][a-z0-9-]{0,29}$."
  }

  validation {
    condition     = alltrue([for v in values(var.semaphores) : contains(["polling", "waiting_room"], v.mode)])
    error_message = "A semaphore's mode is polling or waiting_room."
  }

  validation {
    # Polling: every holder sits in the semaphore's one item (400 KB at most) and takes up to
    # 503 bytes (an execution ARN of 467 bytes with an 80-character Unicode execution name,
    # plus its start time): 814 holders fit. The generator checks the same number.
    condition     = alltrue([for v in values(var.semaphores) : v.mode != "polling" || (v.limit >= 1 && v.limit <= 814 && floor(v.limit) == v.limit)])
    error_message = "Each polling semaphore limit must be a whole number from 1 to 814 (all holders must fit one 400 KB DynamoDB item)."
  }

  validation {
    # Waiting room: the limit is a number on a small counter item; what one message group can
    # serve bounds it. The generator and the gatekeeper check the same number.
    condition     = alltrue([for v in values(var.semaphores) : v.mode != "waiting_room" || (v.limit >= 1 && v.limit <= 100000 && floor(v.limit) == v.limit)])
    error_message = "Each waiting-room semaphore limit must be a whole number from 1 to 100000."
  }
}

variable "point_in_time_recovery_enabled" {
  description = "Point-in-time recovery of the table."
  type        = bool
  default     = true
}

variable "deletion_protection_enabled" {
  description = "Deletion protection of the table. Off by default so a deployment can be destroyed; semaphore state is transient."
  type        = bool
  default     = false
}

variable "kms_key_arn" {
  description = "Customer KMS key for server-side encryption, or null (AWS-managed key aws/dynamodb)."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", coalesce(var.kms_key_arn, "x")))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:...), or null."
  }
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
