variable "bucket_name" {
  description = "Name of the bucket (global across AWS: the root puts the account and region in it). Known before apply, so plans and their scans see the whole bucket."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be 3-63 characters of [a-z0-9.-], starting and ending with a letter or digit."
  }
}

variable "expiration_days" {
  description = "Days after which a stored payload is deleted. Keep it longer than an execution can run (plus the 14 days a redrive may come after it ended): a payload read after it expired fails its task with Stepqueue.PayloadUnavailable."
  type        = number
  default     = 30

  validation {
    condition     = var.expiration_days >= 1 && var.expiration_days <= 3650 && floor(var.expiration_days) == var.expiration_days
    error_message = "expiration_days must be a whole number from 1 to 3650."
  }
}

variable "kms_key_arn" {
  description = "Customer KMS key for SSE-KMS, or null for SSE-S3 (S3-managed keys). With a key, writers need kms:GenerateDataKey and readers kms:Decrypt on it (the worker module grants both)."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", coalesce(var.kms_key_arn, "x")))
    error_message = "kms_key_arn must be a KMS key ARN, or null."
  }
}

variable "deny_insecure_transport" {
  description = "Whether the bucket policy refuses every request not made over TLS. Only a local emulator, which speaks plain HTTP, needs false."
  type        = bool
  default     = true
  nullable    = false
}

variable "force_destroy" {
  description = "Whether `terraform destroy` deletes the bucket with the payloads still in it. false: destroy fails while payloads remain (they expire by themselves)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags for the bucket."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.tags : length(k) <= 128 && length(v) <= 256])
    error_message = "Tag keys are at most 128 characters and values at most 256."
  }
}
