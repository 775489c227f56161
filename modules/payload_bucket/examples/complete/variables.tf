variable "region" {
  description = "AWS region."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]+$", var.region))
    error_message = "region must be an AWS region name such as us-east-1."
  }
}

variable "kms_key_arn" {
  description = "ARN of an existing customer KMS key to encrypt the payloads with (SSE-KMS), or null for SSE-S3. Its key policy must let the workers' roles use it through IAM."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/", coalesce(var.kms_key_arn, "x")))
    error_message = "kms_key_arn must be the ARN of a KMS key (arn:aws:kms:REGION:ACCOUNT:key/ID), or null."
  }
}

variable "deny_insecure_transport" {
  description = "Whether the bucket refuses requests not made over TLS. false only on the local emulator, which speaks plain HTTP."
  type        = bool
  default     = true
  nullable    = false

  validation {
    condition     = var.deny_insecure_transport != null
    error_message = "deny_insecure_transport must be true or false."
  }
}
