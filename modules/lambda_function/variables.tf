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

variable "role_description" {
  description = "Description of the IAM role."
  type        = string

  validation {
    condition     = length(var.role_description) <= 1000
    error_message = "An IAM role description is at most 1000 characters."
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

variable "environment_variables" {
  description = "The caller's own environment variables (e.g. STEPQUEUE_HANDLER); they win over `settings.environment`."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.environment_variables) : can(regex("^[A-Za-z][A-Za-z0-9_]*$", k))])
    error_message = "Environment variable names are letters, digits and '_', starting with a letter."
  }
}

# Every setting of the function a caller may choose, in one object (the shape every wrapper
# module passes through unchanged as its `function` variable), validated here and only here.
variable "settings" {
  description = "The function's settings, one object; only `zip_path` and `source_code_hash` are required. `zip_path`: the Lambda zip (built by `python -m stepqueue.deploy.lambda_zip`); `source_code_hash`: its base64 SHA-256 (the content of `<zip>.sha256`; unchanged, never redeploys); `runtime` (python3.11+), `architecture` (x86_64 | arm64), `timeout_seconds` (1..900), `memory_mb` (128..10240), `reserved_concurrency` (null: none), `ephemeral_storage_mb` (512..10240), `environment` (extra variables, under the caller's own), `kms_key_arn` (the environment's key, null: AWS-managed), `tracing_mode` (Active | PassThrough; Active grants the X-Ray writes), `log_retention_days` (a CloudWatch value, 0 = never), `log_kms_key_arn` (the log group's key; its policy must allow the logs service), `role_name` (default: the function name), `role_permissions_boundary`, `subnet_ids` + `security_group_ids` (a VPC, both or neither; the role then manages the function's network interfaces there), `layers` (at most 5 layer version ARNs), `policy_statements` (extra Allow statements in their own inline policy `<policy_name>-extra`: `sid` [A-Za-z0-9]+ unique, `actions` `service:Action` never \"*\" alone, `resources`, optional `conditions` {test, variable, values}), `managed_policy_arns` (attached to the role), `tags` (every resource of the function)."
  type = object({
    zip_path                  = string
    source_code_hash          = string
    runtime                   = optional(string, "python3.12")
    architecture              = optional(string, "x86_64")
    timeout_seconds           = optional(number, 60)
    memory_mb                 = optional(number, 256)
    reserved_concurrency      = optional(number)
    ephemeral_storage_mb      = optional(number, 512)
    environment               = optional(map(string), {})
    kms_key_arn               = optional(string)
    tracing_mode              = optional(string, "Active")
    log_retention_days        = optional(number, 365)
    log_kms_key_arn           = optional(string)
    role_name                 = optional(string)
    role_permissions_boundary = optional(string)
    subnet_ids                = optional(list(string), [])
    security_group_ids        = optional(list(string), [])
    layers                    = optional(list(string), [])
    policy_statements = optional(list(object({
      sid       = string
      actions   = list(string)
      resources = list(string)
      conditions = optional(list(object({
        test     = string
        variable = string
        values   = list(string)
      })), [])
    })), [])
    managed_policy_arns = optional(list(string), [])
    tags                = optional(map(string), {})
  })
  nullable = false

  validation {
    condition     = endswith(var.settings.zip_path, ".zip")
    error_message = "settings.zip_path must be the path of a .zip file."
  }

  validation {
    condition     = can(regex("^[A-Za-z0-9+/]{43}=$", var.settings.source_code_hash))
    error_message = "settings.source_code_hash must be a base64-encoded SHA-256 (44 characters ending with '=')."
  }

  validation {
    condition     = can(regex("^python3\\.(1[1-9])$", var.settings.runtime))
    error_message = "settings.runtime: the stepqueue zip needs python3.11 or later."
  }

  validation {
    condition     = contains(["x86_64", "arm64"], var.settings.architecture)
    error_message = "settings.architecture must be x86_64 or arm64."
  }

  validation {
    condition     = var.settings.timeout_seconds >= 1 && var.settings.timeout_seconds <= 900 && floor(var.settings.timeout_seconds) == var.settings.timeout_seconds
    error_message = "settings.timeout_seconds must be a whole number from 1 to 900."
  }

  validation {
    condition     = var.settings.memory_mb >= 128 && var.settings.memory_mb <= 10240 && floor(var.settings.memory_mb) == var.settings.memory_mb
    error_message = "settings.memory_mb must be a whole number from 128 to 10240."
  }

  validation {
    condition     = var.settings.reserved_concurrency == null || try(var.settings.reserved_concurrency >= 0 && floor(var.settings.reserved_concurrency) == var.settings.reserved_concurrency, false)
    error_message = "settings.reserved_concurrency must be a whole number >= 0, or null."
  }

  validation {
    condition     = var.settings.ephemeral_storage_mb >= 512 && var.settings.ephemeral_storage_mb <= 10240 && floor(var.settings.ephemeral_storage_mb) == var.settings.ephemeral_storage_mb
    error_message = "settings.ephemeral_storage_mb must be a whole number from 512 to 10240."
  }

  validation {
    condition     = alltrue([for k in keys(var.settings.environment) : can(regex("^[A-Za-z][A-Za-z0-9_]*$", k))])
    error_message = "settings.environment: variable names are letters, digits and '_', starting with a letter."
  }

  validation {
    condition     = alltrue([for arn in [var.settings.kms_key_arn, var.settings.log_kms_key_arn] : arn == null || can(regex("^arn:aws[a-z-]*:kms:", coalesce(arn, "x")))])
    error_message = "settings.kms_key_arn and settings.log_kms_key_arn must be KMS key ARNs, or null."
  }

  validation {
    condition     = contains(["Active", "PassThrough"], var.settings.tracing_mode)
    error_message = "settings.tracing_mode must be Active or PassThrough."
  }

  validation {
    condition     = contains([0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.settings.log_retention_days)
    error_message = "settings.log_retention_days must be a value CloudWatch Logs accepts (0 = never expire, 1, 3, 5, 7, 14, 30, ..., 365, ..., 3653)."
  }

  validation {
    condition     = var.settings.role_name == null || can(regex("^[\\w+=,.@-]{1,64}$", coalesce(var.settings.role_name, "x")))
    error_message = "settings.role_name: IAM role names are 1-64 characters of [A-Za-z0-9_+=,.@-]."
  }

  validation {
    condition     = var.settings.role_permissions_boundary == null || can(regex("^arn:aws[a-z-]*:iam::", coalesce(var.settings.role_permissions_boundary, "x")))
    error_message = "settings.role_permissions_boundary must be an IAM policy ARN, or null."
  }

  validation {
    condition = (
      (length(var.settings.subnet_ids) == 0) == (length(var.settings.security_group_ids) == 0) &&
      alltrue([for id in var.settings.subnet_ids : can(regex("^subnet-[0-9a-f]{8,17}$", id))]) &&
      alltrue([for id in var.settings.security_group_ids : can(regex("^sg-[0-9a-f]{8,17}$", id))])
    )
    error_message = "settings.subnet_ids (subnet-...) and settings.security_group_ids (sg-...) go together: both empty (no VPC) or both non-empty."
  }

  validation {
    condition     = length(var.settings.layers) <= 5 && alltrue([for arn in var.settings.layers : can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:layer:[A-Za-z0-9_-]{1,140}:[0-9]+$", arn))])
    error_message = "settings.layers must be at most 5 layer version ARNs (arn:aws:lambda:<region>:<account>:layer:<name>:<version>)."
  }

  validation {
    condition     = alltrue([for s in var.settings.policy_statements : can(regex("^[A-Za-z0-9]+$", s.sid))]) && length(distinct([for s in var.settings.policy_statements : s.sid])) == length(var.settings.policy_statements)
    error_message = "settings.policy_statements: each needs a unique sid of letters and digits."
  }

  validation {
    condition     = alltrue([for s in var.settings.policy_statements : length(s.actions) > 0 && alltrue([for a in s.actions : can(regex("^[a-z0-9-]+:[A-Za-z0-9*]+$", a))])])
    error_message = "settings.policy_statements: each needs actions written `service:Action` (a wildcard inside the action is allowed, \"*\" alone is not)."
  }

  validation {
    condition     = alltrue([for s in var.settings.policy_statements : length(s.resources) > 0 && alltrue([for r in s.resources : r == "*" || startswith(r, "arn:")])])
    error_message = "settings.policy_statements: each needs resources, each an ARN (or \"*\")."
  }

  validation {
    condition     = alltrue([for arn in var.settings.managed_policy_arns : can(regex("^arn:aws[a-z-]*:iam::(aws|[0-9]{12}):policy/[\\w+=,.@/-]+$", arn))])
    error_message = "settings.managed_policy_arns must be IAM policy ARNs (arn:aws:iam::<account or aws>:policy/<name>)."
  }

  validation {
    condition     = alltrue([for k, v in var.settings.tags : length(k) >= 1 && length(k) <= 128 && length(v) <= 256])
    error_message = "settings.tags: keys are 1-128 characters and values at most 256."
  }
}

variable "setting_names" {
  description = "The attribute names the caller gave `settings` (`keys(var.function)` in a wrapper whose `function` is `any`): a name `settings` does not have would otherwise be dropped without a word. null: not checked."
  type        = list(string)
  default     = null

  validation {
    condition = var.setting_names == null || alltrue([for name in coalesce(var.setting_names, []) : contains([
      "zip_path", "source_code_hash", "runtime", "architecture", "timeout_seconds", "memory_mb", "reserved_concurrency",
      "ephemeral_storage_mb", "environment", "kms_key_arn", "tracing_mode", "log_retention_days", "log_kms_key_arn",
      "role_name", "role_permissions_boundary", "subnet_ids", "security_group_ids", "layers", "policy_statements",
      "managed_policy_arns", "tags",
    ], name)])
    error_message = "A function setting is misspelt or unknown (given: ${join(", ", coalesce(var.setting_names, []))}); the settings are zip_path, source_code_hash, runtime, architecture, timeout_seconds, memory_mb, reserved_concurrency, ephemeral_storage_mb, environment, kms_key_arn, tracing_mode, log_retention_days, log_kms_key_arn, role_name, role_permissions_boundary, subnet_ids, security_group_ids, layers, policy_statements, managed_policy_arns and tags."
  }
}
