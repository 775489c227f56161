variable "function_name" {
  description = "Name of the Lambda function (and, unless `role_name` is set, of its role); its log group is `/aws/lambda/<function_name>`."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.function_name))
    error_message = "Lambda function names are 1-64 characters of [A-Za-z0-9_-]."
  }
}

variable "description" {
  description = "Description of the Lambda function."
  type        = string

  validation {
    condition     = length(var.description) <= 256
    error_message = "A Lambda description is at most 256 characters."
  }
}

variable "lambda_handler" {
  description = "The Lambda entry point inside the zip (`module.function`)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)+$", var.lambda_handler))
    error_message = "lambda_handler must be a dotted Python path: module(s) then function."
  }
}

variable "zip_path" {
  description = "Path of the Lambda zip (built by `python -m stepqueue.deploy.lambda_zip`)."
  type        = string

  validation {
    condition     = endswith(var.zip_path, ".zip")
    error_message = "zip_path must be the path of a .zip file."
  }
}

variable "source_code_hash" {
  description = "Base64 SHA-256 of the zip (the content of `<zip>.sha256`); an unchanged hash never redeploys."
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
  description = "Lambda timeout."
  type        = number
  default     = 60

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
  description = "Environment variables of the function."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.environment_variables) : can(regex("^[A-Za-z][A-Za-z0-9_]*$", k))])
    error_message = "Environment variable names are letters, digits and '_', starting with a letter."
  }
}

variable "kms_key_arn" {
  description = "Customer KMS key for the function's environment variables, or null (AWS-managed key)."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", coalesce(var.kms_key_arn, "x")))
    error_message = "kms_key_arn must be a KMS key ARN, or null."
  }
}

variable "tracing_mode" {
  description = "X-Ray tracing mode; Active also grants the X-Ray write actions."
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
  description = "Customer KMS key for the log group, or null. The key policy must allow the logs service principal."
  type        = string
  default     = null

  validation {
    condition     = var.log_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", coalesce(var.log_kms_key_arn, "x")))
    error_message = "log_kms_key_arn must be a KMS key ARN, or null."
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

variable "role_description" {
  description = "Description of the IAM role."
  type        = string

  validation {
    condition     = length(var.role_description) <= 1000
    error_message = "An IAM role description is at most 1000 characters."
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

variable "policy_name" {
  description = "Name of the role's inline policy."
  type        = string

  validation {
    condition     = can(regex("^[\\w+=,.@-]{1,128}$", var.policy_name))
    error_message = "IAM policy names are 1-128 characters of [A-Za-z0-9_+=,.@-]."
  }
}

variable "policy_json" {
  description = "IAM policy document (JSON) with what the function itself may do; the log and X-Ray statements are added to it. Statement ids `WriteOwnLogs` and `XRay` are taken."
  type        = string

  validation {
    condition     = can(jsondecode(var.policy_json).Statement)
    error_message = "policy_json must be an IAM policy document with a Statement."
  }
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.tags : length(k) >= 1 && length(k) <= 128 && length(v) <= 256])
    error_message = "Tag keys are 1-128 characters and values at most 256."
  }
}

variable "ephemeral_storage_mb" {
  description = "Size of the function's /tmp in MB."
  type        = number
  default     = 512
  nullable    = false

  validation {
    condition     = var.ephemeral_storage_mb >= 512 && var.ephemeral_storage_mb <= 10240 && floor(var.ephemeral_storage_mb) == var.ephemeral_storage_mb
    error_message = "ephemeral_storage_mb must be a whole number from 512 to 10240."
  }
}

variable "subnet_ids" {
  description = "Subnets of the function's VPC configuration; empty (the default): no VPC. With subnets, the role may manage the function's network interfaces there."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for id in var.subnet_ids : can(regex("^subnet-[0-9a-f]{8,17}$", id))])
    error_message = "subnet_ids must be subnet ids (subnet-0123abcd...)."
  }
}

variable "security_group_ids" {
  description = "Security groups of the function's VPC configuration: given with `subnet_ids`, or both empty."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for id in var.security_group_ids : can(regex("^sg-[0-9a-f]{8,17}$", id))])
    error_message = "security_group_ids must be security group ids (sg-0123abcd...)."
  }

  validation {
    condition     = (length(var.subnet_ids) == 0) == (length(var.security_group_ids) == 0)
    error_message = "subnet_ids and security_group_ids go together: both empty (no VPC) or both non-empty."
  }
}

variable "layers" {
  description = "ARNs of existing Lambda layer versions, at most 5."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = length(var.layers) <= 5 && alltrue([for arn in var.layers : can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:layer:[A-Za-z0-9_-]{1,140}:[0-9]+$", arn))])
    error_message = "layers must be at most 5 layer version ARNs (arn:aws:lambda:<region>:<account>:layer:<name>:<version>)."
  }
}

variable "policy_statements" {
  description = "Extra IAM statements (Allow) of this function alone, in their own inline policy `<policy_name>-extra`: `sid` ([A-Za-z0-9]+, unique), `actions` (`service:Action`, no \"*\" alone), `resources`, optional `conditions` ({test, variable, values})."
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

  validation {
    condition     = alltrue([for s in var.policy_statements : can(regex("^[A-Za-z0-9]+$", s.sid))]) && length(distinct([for s in var.policy_statements : s.sid])) == length(var.policy_statements)
    error_message = "Each policy statement needs a unique sid of letters and digits."
  }

  validation {
    condition     = alltrue([for s in var.policy_statements : length(s.actions) > 0 && alltrue([for a in s.actions : can(regex("^[a-z0-9-]+:[A-Za-z0-9*]+$", a))])])
    error_message = "Each policy statement needs actions written `service:Action` (a wildcard inside the action is allowed, \"*\" alone is not)."
  }

  validation {
    condition     = alltrue([for s in var.policy_statements : length(s.resources) > 0 && alltrue([for r in s.resources : r == "*" || startswith(r, "arn:")])])
    error_message = "Each policy statement needs resources, each an ARN (or \"*\")."
  }
}

variable "managed_policy_arns" {
  description = "Managed IAM policies attached to the function's role."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for arn in var.managed_policy_arns : can(regex("^arn:aws[a-z-]*:iam::(aws|[0-9]{12}):policy/[\\w+=,.@/-]+$", arn))])
    error_message = "managed_policy_arns must be IAM policy ARNs (arn:aws:iam::<account or aws>:policy/<name>)."
  }
}
