# The function's settings are one object (`function`), handed to ../lambda_function unchanged
# and validated there, once.

variable "function_name" {
  description = "Name of the Lambda function (and, unless `role_name` is set, of its role)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.function_name))
    error_message = "Lambda function names are 1-64 characters of [A-Za-z0-9_-]."
  }
}

variable "description" {
  description = "Description of the Lambda function."
  type        = string
  default     = "stepqueue worker"
}

variable "handler" {
  description = "User handler run by the stepqueue runtime: module path inside the zip, then the function name (e.g. `examples.orders.enrich`). Becomes STEPQUEUE_HANDLER."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)+$", var.handler))
    error_message = "handler must be a dotted Python path: module(s) then function, e.g. examples.orders.enrich."
  }
}

variable "function" {
  description = "The function's settings, passed through unchanged to ../lambda_function `settings` (validated there): `zip_path` and `source_code_hash` (required), `runtime`, `architecture`, `timeout_seconds`, `memory_mb`, `reserved_concurrency` (if set, keep it >= max_concurrency or throttled messages end in the DLQ), `ephemeral_storage_mb`, `environment`, `kms_key_arn` (the environment's key, and the one secrets are decrypted with), `tracing_mode`, `log_retention_days`, `log_kms_key_arn`, `role_name`, `role_permissions_boundary`, `subnet_ids`, `security_group_ids`, `layers`, `policy_statements`, `managed_policy_arns`, `tags`."
  type        = any
}

variable "queue_arn" {
  description = "ARN of the SQS queue the function consumes (and may only consume)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:sqs:", var.queue_arn))
    error_message = "queue_arn must be an SQS queue ARN."
  }
}

variable "queue_kms_key_arn" {
  description = "Customer KMS key the queue is encrypted with (grants kms:Decrypt on it), or null."
  type        = string
  default     = null
}

variable "event_source_mapping_enabled" {
  description = "Whether the SQS event source mapping polls. false locally: the emulator cannot run Lambda and a local runner does the polling."
  type        = bool
  default     = true
}

variable "batch_size" {
  description = "Records per invocation."
  type        = number
  default     = 1

  validation {
    condition     = var.batch_size >= 1 && var.batch_size <= 10000 && floor(var.batch_size) == var.batch_size
    error_message = "batch_size must be a whole number from 1 to 10000."
  }
}

variable "batching_window_seconds" {
  description = "Maximum batching window. AWS requires one (>= 1) when batch_size > 10."
  type        = number
  default     = 0

  validation {
    condition     = var.batching_window_seconds >= 0 && var.batching_window_seconds <= 300 && floor(var.batching_window_seconds) == var.batching_window_seconds
    error_message = "batching_window_seconds must be a whole number from 0 to 300."
  }
}

variable "max_concurrency" {
  description = "Maximum concurrent invocations by the event source mapping (scaling_config)."
  type        = number
  default     = 2

  validation {
    condition     = var.max_concurrency >= 2 && var.max_concurrency <= 1000 && floor(var.max_concurrency) == var.max_concurrency
    error_message = "max_concurrency must be a whole number from 2 to 1000 (AWS limits)."
  }
}

variable "payload_store" {
  description = "The claim check (docs/contracts.md, \"Large payloads\"), or null (outputs over 256 KiB fail with Stepqueue.OutputTooLarge). `bucket_name`/`bucket_arn`: the payload bucket; `read_prefix`: `<state machine>/`, the references the worker may read; `write_prefix`: `<read_prefix><worker>/`, where it stores its outputs; outputs over `threshold_bytes` are stored, at most `max_bytes`; `kms_key_arn`: the bucket's customer key, or null (SSE-S3)."
  type = object({
    bucket_name     = string
    bucket_arn      = string
    read_prefix     = string
    write_prefix    = string
    threshold_bytes = number
    max_bytes       = number
    kms_key_arn     = optional(string)
  })
  default = null

  validation {
    condition = var.payload_store == null || try(
      can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.payload_store.bucket_arn)) &&
      endswith(var.payload_store.bucket_arn, ":::${var.payload_store.bucket_name}") &&
      can(regex("^[A-Za-z0-9_-]{1,80}/$", var.payload_store.read_prefix)) &&
      startswith(var.payload_store.write_prefix, var.payload_store.read_prefix) &&
      can(regex("^[a-z][a-z0-9_]{0,29}/$", trimprefix(var.payload_store.write_prefix, var.payload_store.read_prefix))) &&
      var.payload_store.threshold_bytes >= 1024 && var.payload_store.threshold_bytes <= 262144 &&
      var.payload_store.max_bytes >= var.payload_store.threshold_bytes && var.payload_store.max_bytes <= 1073741824,
      false
    )
    error_message = "payload_store: bucket_arn must be the S3 ARN of bucket_name; read_prefix `<state machine>/`; write_prefix `<read_prefix><worker>/`; threshold_bytes 1024..262144; max_bytes from threshold_bytes to 1073741824."
  }

  validation {
    condition     = try(var.payload_store.kms_key_arn, null) == null || can(regex("^arn:aws[a-z-]*:kms:", coalesce(try(var.payload_store.kms_key_arn, null), "x")))
    error_message = "payload_store.kms_key_arn must be a KMS key ARN, or null."
  }
}

variable "secrets" {
  description = "Environment variable name -> ARN of an SSM parameter or a Secrets Manager secret. The function gets them as one variable, STEPQUEUE_SECRETS (their JSON), which the runtime resolves at cold start; the role may read exactly those ARNs (and decrypt with `kms_key_arn`, when set)."
  type        = map(string)
  default     = {}
  nullable    = false

  validation {
    condition     = alltrue([for arn in values(var.secrets) : can(regex("^arn:aws[a-z-]*:(ssm:[a-z0-9-]+:[0-9]{12}:parameter/.+|secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+)$", arn))])
    error_message = "secrets values must be ARNs of SSM parameters (arn:aws:ssm:<region>:<account>:parameter/<name>) or Secrets Manager secrets (arn:aws:secretsmanager:<region>:<account>:secret:<name>)."
  }

  validation {
    condition     = alltrue([for name in keys(var.secrets) : can(regex("^[A-Za-z][A-Za-z0-9_]*$", name)) && !startswith(name, "STEPQUEUE_")])
    error_message = "secrets names are environment variable names (letters, digits, '_'), not STEPQUEUE_*."
  }
}
