# The settings handed to ../lambda_function unchanged are validated there, once.

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

variable "handler" {
  description = "User handler run by the stepqueue runtime: module path inside the zip, then the function name (e.g. `examples.orders.enrich`). Becomes STEPQUEUE_HANDLER."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)+$", var.handler))
    error_message = "handler must be a dotted Python path: module(s) then function, e.g. examples.orders.enrich."
  }
}

variable "lambda_handler" {
  description = "The Lambda entry point (the stepqueue runtime)."
  type        = string
  default     = "stepqueue_runtime.entry.handler"
}

variable "zip_path" {
  description = "Path of the Lambda zip (built by `python -m stepqueue.deploy.lambda_zip`)."
  type        = string
}

variable "source_code_hash" {
  description = "Base64 SHA-256 of the zip (the content of `<zip>.sha256`); an unchanged hash never redeploys."
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
  description = "Lambda timeout."
  type        = number
  default     = 60
}

variable "memory_mb" {
  description = "Lambda memory size in MB."
  type        = number
  default     = 256
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions, or null for none. If set, keep it >= max_concurrency or throttled messages end in the DLQ."
  type        = number
  default     = null
}

variable "environment_variables" {
  description = "Extra environment variables (STEPQUEUE_HANDLER is always set from `handler`)."
  type        = map(string)
  default     = {}
}

variable "kms_key_arn" {
  description = "Customer KMS key for the function's environment variables, or null (AWS-managed key)."
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
  description = "Customer KMS key for the log group, or null. The key policy must allow the logs service principal."
  type        = string
  default     = null
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

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}

variable "ephemeral_storage_mb" {
  description = "Size of the function's /tmp in MB (512..10240)."
  type        = number
  default     = 512
  nullable    = false
}

variable "subnet_ids" {
  description = "Subnets of the function's VPC configuration, with `security_group_ids`; empty: no VPC."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "security_group_ids" {
  description = "Security groups of the function's VPC configuration, with `subnet_ids`."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "layers" {
  description = "ARNs of existing Lambda layer versions (at most 5)."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "policy_statements" {
  description = "Extra IAM statements of this worker alone (../lambda_function `policy_statements`)."
  type = list(object({
    sid       = string
    actions   = list(string)
    resources = list(string)
    conditions = optional(list(object({
      test     = string
      variable = string
      values   = list(string)
    })), [])
  }))
  default  = []
  nullable = false
}

variable "managed_policy_arns" {
  description = "Managed IAM policies attached to this worker's role."
  type        = list(string)
  default     = []
  nullable    = false
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
