variable "name" {
  description = "Name of the semaphore table."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{3,255}$", var.name))
    error_message = "DynamoDB table names are 3-255 characters of [A-Za-z0-9_.-]."
  }
}

variable "semaphores" {
  description = "Semaphores to pre-create, by name, with the counter item's initial limit: 1 to 100000."
  type = map(object({
    limit = number
  }))
  default = {}

  validation {
    condition     = alltrue([for k, v in var.semaphores : can(regex("^[a-z][a-z0-9-]{0,29}$", k))])
    error_message = "Semaphore names must match ^[a-z][a-z0-9-]{0,29}$."
  }

  validation {
    # The limit is a number on a small counter item; what one message group can serve bounds
    # it. The generator and the gatekeeper check the same number.
    condition     = alltrue([for v in values(var.semaphores) : v.limit >= 1 && v.limit <= 100000 && floor(v.limit) == v.limit])
    error_message = "Each semaphore limit must be a whole number from 1 to 100000."
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
