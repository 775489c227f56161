# ---------------------------------------------------------------------------------------------
# Where to deploy
# ---------------------------------------------------------------------------------------------

variable "region" {
  description = "AWS region."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must look like us-east-1."
  }
}

variable "aws_endpoint_url" {
  description = "Endpoint of a local AWS emulator (e.g. http://127.0.0.1:5000). null or \"\": real AWS."
  type        = string
  default     = null

  validation {
    condition     = var.aws_endpoint_url == null || can(regex("^(https?://[^/\\s]+/?)?$", coalesce(var.aws_endpoint_url, "")))
    error_message = "aws_endpoint_url must be http(s)://host[:port], \"\" or null."
  }
}

variable "max_retries" {
  description = "Maximum retries of an AWS API call by the provider. Keep it low against the emulator, where an unimplemented API answers 500 forever."
  type        = number
  default     = 25

  validation {
    condition     = var.max_retries >= 0 && floor(var.max_retries) == var.max_retries
    error_message = "max_retries must be a whole number >= 0."
  }
}

variable "name_prefix" {
  description = "Prefix of every resource name (docs/contracts.md: state machine `{prefix}{workflow}`, queue `{prefix}{workflow}-{worker}`, ...)."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^([a-z][a-z0-9-]{0,19})?$", var.name_prefix))
    error_message = "name_prefix must be empty or up to 20 characters of [a-z0-9-] starting with a letter (end it with '-' to separate it)."
  }
}

variable "stage" {
  description = "Deployment stage (e.g. dev, prod): prefixes every resource name after `name_prefix` as `{stage}-`, so stages can share one account. \"\" (the default): no stage, the names of a deployment made without one."
  type        = string
  default     = ""
  nullable    = false

  validation {
    condition     = can(regex("^([a-z][a-z0-9]{0,9})?$", var.stage))
    error_message = "stage must be empty or 1-10 lowercase letters or digits starting with a letter (e.g. dev, prod, qa2)."
  }
}

variable "tags" {
  description = "Tags for every resource (provider default_tags)."
  type        = map(string)
  default     = { Project = "stepqueue" }
}

# ---------------------------------------------------------------------------------------------
# Inputs from the generator and the zip builder
# ---------------------------------------------------------------------------------------------

variable "generated_dir" {
  description = "Directory holding the generator's output; `definition_file` paths are relative to it. null: `<root>/../build/generated`. Pass `<dir>/workflows.tfvars.json` with -var-file."
  type        = string
  default     = null
}

variable "workflows" {
  description = "Workflows to deploy, as written by the generator into workflows.tfvars.json (docs/contracts.md)."
  type = map(object({
    definition_file = string
    semaphore       = optional(string)
    workers = map(object({
      # Every field is required: the generator is the one place defaults are filled, and it
      # always writes all of them (reserved_concurrency may be null: none reserved).
      handler                    = string
      timeout_seconds            = number
      memory_mb                  = number
      batch_size                 = number
      batching_window_seconds    = number
      max_concurrency            = number
      reserved_concurrency       = number
      max_receive_count          = number
      visibility_timeout_seconds = number
      message_retention_seconds  = number
      delay_seconds              = number
      # The worker's own settings (docs/contracts.md): the generator writes them all; optional
      # here, with the generator's defaults, so that tfvars written before they existed still
      # plan, unchanged. A worker that declares nothing plans exactly as before.
      artifact             = optional(string)
      architecture         = optional(string, "x86_64")
      environment          = optional(map(string), {})
      secrets              = optional(map(string), {})
      managed_policy_arns  = optional(list(string), [])
      ephemeral_storage_mb = optional(number, 512)
      log_retention_days   = optional(number)
      subnet_ids           = optional(list(string), [])
      security_group_ids   = optional(list(string), [])
      layers               = optional(list(string), [])
      tags                 = optional(map(string), {})
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
    }))
  }))
  default = {}

  validation {
    condition     = alltrue([for name in keys(var.workflows) : can(regex("^[a-z][a-z0-9-]{0,29}$", name))])
    error_message = "Workflow names must match ^[a-z][a-z0-9-]{0,29}$."
  }

  validation {
    condition     = alltrue(flatten([for wf in values(var.workflows) : [for name in keys(wf.workers) : can(regex("^[a-z][a-z0-9_]{0,29}$", name))]]))
    error_message = "Worker names must match ^[a-z][a-z0-9_]{0,29}$ (no hyphens: they are template attribute names)."
  }

  validation {
    condition     = alltrue([for wf in values(var.workflows) : can(regex("\\.json$", wf.definition_file)) && !startswith(wf.definition_file, "/")])
    error_message = "definition_file must be a .json path relative to generated_dir."
  }

  validation {
    condition = alltrue(flatten([for wf in values(var.workflows) : [for w in values(wf.workers) : (
      w.max_concurrency >= 2 && w.max_concurrency <= 1000 &&
      w.batch_size >= 1 && w.batch_size <= 10000 &&
      (w.batch_size <= 10 || w.batching_window_seconds >= 1) &&
      w.timeout_seconds >= 1 && w.timeout_seconds <= 900 &&
      w.max_receive_count >= 1 && w.max_receive_count <= 1000
    )]]))
    error_message = "Worker settings out of AWS limits: max_concurrency 2..1000, batch_size 1..10000 (> 10 needs batching_window_seconds >= 1), timeout_seconds 1..900, max_receive_count 1..1000."
  }

  validation {
    condition = alltrue(flatten([for wf in values(var.workflows) : [for w in values(wf.workers) : (
      w.visibility_timeout_seconds >= w.timeout_seconds
    )]]))
    error_message = "A worker queue's visibility_timeout_seconds must be at least its Lambda timeout_seconds (AWS rejects the event source mapping otherwise)."
  }

  validation {
    condition = alltrue(flatten([for wf in values(var.workflows) : [for w in values(wf.workers) : (
      w.reserved_concurrency == null || try(w.reserved_concurrency >= w.max_concurrency, false)
    )]]))
    error_message = "reserved_concurrency, when set, must be >= max_concurrency, else throttled messages end in the DLQ."
  }

  # Names are {name_prefix}{stage-}{workflow}-{worker} (Lambda function and role: 64 at most;
  # the queue's 80 less `-dlq` is then met too) and {name_prefix}{stage-}{workflow}-sfn (state
  # machine role: 64). The longest prefix, stage and names together would exceed both.
  validation {
    condition = alltrue(flatten([for wf_name, wf in var.workflows : concat(
      [length("${var.name_prefix}${var.stage == "" ? "" : "${var.stage}-"}${wf_name}-sfn") <= 64],
      [for wk_name in keys(wf.workers) : length("${var.name_prefix}${var.stage == "" ? "" : "${var.stage}-"}${wf_name}-${wk_name}") <= 64],
    )]))
    error_message = "With name_prefix and stage, `{prefix}{stage-}{workflow}-{worker}` and `{prefix}{stage-}{workflow}-sfn` must be at most 64 characters (Lambda function and IAM role names): shorten the prefix, the stage or the names."
  }

  # --- The worker's own settings. Each message names the field and the fix; the generator
  # refuses the same with the spec's file and line, so these catch hand-written tfvars.
  validation {
    condition = alltrue(flatten([for wf in values(var.workflows) : [for w in values(wf.workers) : (
      contains(["x86_64", "arm64"], w.architecture) &&
      w.ephemeral_storage_mb >= 512 && w.ephemeral_storage_mb <= 10240 && floor(w.ephemeral_storage_mb) == w.ephemeral_storage_mb
    )]]))
    error_message = "A worker's architecture must be x86_64 or arm64, and its ephemeral_storage_mb a whole number from 512 to 10240."
  }

  validation {
    condition = alltrue(flatten([for wf in values(var.workflows) : [for w in values(wf.workers) : (
      w.artifact == null || can(regex("^[A-Za-z0-9_][A-Za-z0-9_./-]*\\.zip$", w.artifact)) && !strcontains(coalesce(w.artifact, ".."), "..")
    )]]))
    error_message = "A worker's artifact must be null (the shared stepqueue.zip) or a .zip path relative to the directory of lambda_zip_path, without '..' (e.g. workers/media-transcode.zip)."
  }

  validation {
    condition = alltrue(flatten([for wf in values(var.workflows) : [for w in values(wf.workers) : [
      for name in concat(keys(w.environment), keys(w.secrets)) : can(regex("^[A-Za-z][A-Za-z0-9_]*$", name)) && !startswith(name, "STEPQUEUE_") && !contains([
        "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_EXECUTION_ENV", "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_LAMBDA_RUNTIME_API",
        "AWS_XRAY_CONTEXT_MISSING", "AWS_XRAY_DAEMON_ADDRESS", "_AWS_XRAY_DAEMON_ADDRESS", "_AWS_XRAY_DAEMON_PORT", "_HANDLER", "_X_AMZN_TRACE_ID",
        "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR", "TZ",
      ], name)
    ]]]))
    error_message = "A worker's environment and secrets names must be environment variable names (letters, digits, '_', starting with a letter), neither STEPQUEUE_* (the runtime's own) nor a name Lambda reserves (AWS_REGION, AWS_ACCESS_KEY_ID, AWS_LAMBDA_*, _HANDLER, LAMBDA_TASK_ROOT, TZ, ...): rename the variable."
  }

  validation {
    condition = alltrue(flatten([for wf in values(var.workflows) : [for w in values(wf.workers) : (
      length(setintersection(keys(w.environment), keys(w.secrets))) == 0
    )]]))
    error_message = "A worker's environment and secrets must not name the same variable."
  }

  validation {
    condition = alltrue(flatten([for wf in values(var.workflows) : [for w in values(wf.workers) : [
      for arn in values(w.secrets) : can(regex("^arn:aws[a-z-]*:(ssm:[a-z0-9-]+:[0-9]{12}:parameter/.+|secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+)$", arn))
    ]]]))
    error_message = "A worker's secrets must map a variable name to the ARN of an SSM parameter (arn:aws:ssm:<region>:<account>:parameter/<name>) or of a Secrets Manager secret (arn:aws:secretsmanager:<region>:<account>:secret:<name>), never to a value."
  }

  validation {
    condition = alltrue(flatten([for wf in values(var.workflows) : [for w in values(wf.workers) : concat(
      [length(distinct([for s in w.policy_statements : s.sid])) == length(w.policy_statements)],
      [for s in w.policy_statements : can(regex("^[A-Za-z0-9]+$", s.sid))],
    )]]))
    error_message = "A worker's policy statements need a sid of letters and digits only ([A-Za-z0-9]+), unique within the worker."
  }

  validation {
    condition = alltrue(flatten([for wf in values(var.workflows) : [for w in values(wf.workers) : [
      for s in w.policy_statements : length(s.actions) > 0 && length(s.resources) > 0 && alltrue([for a in s.actions : can(regex("^[a-z0-9-]+:[A-Za-z0-9*]+$", a))])
    ]]]))
    error_message = "A worker's policy statement needs actions written `service:Action` (e.g. s3:GetObject; \"*\" alone is refused: name the actions) and at least one resource."
  }

  validation {
    condition = alltrue(flatten([for wf in values(var.workflows) : [for w in values(wf.workers) : [
      for s in w.policy_statements : [for r in s.resources : r == "*" || startswith(r, "arn:") || startswith(r, "$${")]
    ]]]))
    error_message = "A worker's policy statement resources must be ARNs (possibly built from $${payload_bucket_arn}, $${partition}, $${region}, $${account_id}, $${prefix}), or \"*\"."
  }

  validation {
    condition = alltrue(flatten([for wf in values(var.workflows) : [for w in values(wf.workers) : [
      for arn in w.managed_policy_arns : can(regex("^arn:aws[a-z-]*:iam::(aws|[0-9]{12}):policy/[\\w+=,.@/-]+$", arn))
    ]]]))
    error_message = "A worker's managed_policy_arns must be IAM policy ARNs (arn:aws:iam::aws:policy/<name> or arn:aws:iam::<account>:policy/<name>)."
  }

  validation {
    condition = alltrue(flatten([for wf in values(var.workflows) : [for w in values(wf.workers) : (
      w.log_retention_days == null || contains([0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], coalesce(w.log_retention_days, 0))
    )]]))
    error_message = "A worker's log_retention_days must be null (the root's log_retention_days) or a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, ..., 365, ..., 3653, or 0 = never)."
  }

  validation {
    condition = alltrue(flatten([for wf in values(var.workflows) : [for w in values(wf.workers) : concat(
      [(length(w.subnet_ids) == 0) == (length(w.security_group_ids) == 0)],
      [for id in w.subnet_ids : can(regex("^subnet-[0-9a-f]{8,17}$", id))],
      [for id in w.security_group_ids : can(regex("^sg-[0-9a-f]{8,17}$", id))],
    )]]))
    error_message = "A worker's subnet_ids (subnet-...) and security_group_ids (sg-...) go together: both empty (no VPC) or both non-empty."
  }

  validation {
    condition = alltrue(flatten([for wf in values(var.workflows) : [for w in values(wf.workers) : concat(
      [length(w.layers) <= 5],
      [for arn in w.layers : can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:layer:[A-Za-z0-9_-]{1,140}:[0-9]+$", arn))],
    )]]))
    error_message = "A worker's layers must be at most 5 layer version ARNs (arn:aws:lambda:<region>:<account>:layer:<name>:<version>)."
  }

  validation {
    condition = alltrue(flatten([for wf in values(var.workflows) : [for w in values(wf.workers) : [
      for k, v in w.tags : length(k) >= 1 && length(k) <= 128 && length(v) <= 256 && !startswith(lower(k), "aws:")
    ]]]))
    error_message = "A worker's tag keys must be 1-128 characters, not starting with aws:, and values at most 256."
  }

  # The payload bucket's references have nothing to name without the bucket. Escaped ones
  # ($${...}) are literal text and pass.
  validation {
    condition = var.payload_bucket_enabled || !anytrue(flatten([for wf in values(var.workflows) : [for w in values(wf.workers) : [
      for text in concat(values(w.environment), flatten([for s in w.policy_statements : s.resources])) : can(regex("(^|[^$])\\$\\{\\s*payload_bucket_(name|arn)\\s*\\}", text))
    ]]]))
    error_message = "A worker's environment or policy statement references $${payload_bucket_name} or $${payload_bucket_arn}, but this deployment has no payload bucket: set payload_bucket_enabled = true, or remove the reference."
  }
}

variable "semaphores" {
  description = "Semaphores by name, with their initial limit, their mode (workflows.tfvars.json: always `waiting_room`; a semaphore without one comes from tfvars written before modes existed, so it polled) and their admission rules (per-key limit, rate, burst, aging). Each workflow's `semaphore` must name one."
  type = map(object({
    limit = number
    mode  = optional(string, "polling")
    # Admission controls decided by the gatekeeper (docs/design.md §4b).
    admission = optional(object({
      key_limit     = optional(number)
      rate          = optional(number)
      burst         = optional(number)
      aging_seconds = optional(number)
    }))
  }))
  default = {}

  validation {
    condition     = alltrue([for name, s in var.semaphores : can(regex("^[a-z][a-z0-9-]{0,29}$", name))])
    error_message = "Semaphore names must match ^[a-z][a-z0-9-]{0,29}$."
  }

  validation {
    # Polling (and tfvars without a mode, written when polling was the only design) was retired:
    # its definitions write the table this root no longer lets state machines touch.
    condition     = alltrue([for s in values(var.semaphores) : s.mode == "waiting_room"])
    error_message = "A semaphore's mode must be waiting_room: polling was retired (a semaphore without a mode comes from tfvars written when polling was the only design). Regenerate workflows.tfvars.json with the current generator (remove `mode: polling` from the specs; the waiting room is the default). The plan then adds the gatekeeper and the table's holders index, updates the state machines in place and destroys the reclaimer; drain the semaphores first."
  }

  validation {
    # The limit is a number on a small counter item, bounded by what one message group can
    # serve. The generator and the gatekeeper check the same number.
    condition     = alltrue([for s in values(var.semaphores) : s.limit >= 1 && s.limit <= 100000 && floor(s.limit) == s.limit])
    error_message = "Each semaphore limit must be a whole number from 1 to 100000."
  }
}

variable "lambda_zip_path" {
  description = "The Lambda zip built by `python -m stepqueue.deploy.lambda_zip --out build/lambda`; its base64 SHA-256 is read from `<zip>.sha256` (else computed). null: `<root>/../build/lambda/stepqueue.zip`."
  type        = string
  default     = null
}

# ---------------------------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------------------------

variable "event_source_mapping_enabled" {
  description = "Whether the workers' SQS event source mappings poll. false against the emulator (it cannot run Lambda: a local runner polls instead)."
  type        = bool
  default     = true
}

variable "kms_key_arn" {
  description = "Customer KMS key for queues, the semaphore table, log groups and Lambda environments. null: service-managed encryption everywhere. Its key policy must allow the logs service principal."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", coalesce(var.kms_key_arn, "x")))
    error_message = "kms_key_arn must be a KMS key ARN, or null."
  }
}

variable "log_retention_days" {
  description = "Retention of every log group."
  type        = number
  default     = 365

  validation {
    condition     = contains([0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, ..., 365, ..., 3653, or 0 = never)."
  }
}

variable "alarm_sns_topic_arn" {
  description = "SNS topic notified by every alarm (the DLQ alarms and the monitoring alarms) when it fires and when it clears. null: the alarms still exist and show their state in the console and on the dashboard, and notify nobody."
  type        = string
  default     = null

  validation {
    condition     = var.alarm_sns_topic_arn == null || can(regex("^arn:aws[a-z-]*:sns:", coalesce(var.alarm_sns_topic_arn, "x")))
    error_message = "alarm_sns_topic_arn must be an SNS topic ARN, or null."
  }
}

variable "monitoring_enabled" {
  description = "Create the deployment's CloudWatch dashboard and its alarms (modules/monitoring), and the watchdog whose metric the running-too-long alarms read (modules/watchdog)."
  type        = bool
  default     = true
  nullable    = false
}

variable "monitoring_alarms" {
  description = "The kinds of monitoring alarm to create (modules/monitoring `alarms`): executions_failed, executions_timed_out, executions_aborted, queue_age, running_too_long, semaphore_wait, errors, leaked_slots. Default: all of them."
  type        = set(string)
  default     = ["executions_failed", "executions_timed_out", "executions_aborted", "queue_age", "running_too_long", "semaphore_wait", "errors", "leaked_slots"]
  nullable    = false

  validation {
    condition     = alltrue([for kind in var.monitoring_alarms : contains(["executions_failed", "executions_timed_out", "executions_aborted", "queue_age", "running_too_long", "semaphore_wait", "errors", "leaked_slots"], kind)])
    error_message = "monitoring_alarms may only name executions_failed, executions_timed_out, executions_aborted, queue_age, running_too_long, semaphore_wait, errors and leaked_slots."
  }
}

variable "queue_age_alarm_share" {
  description = "A worker queue's age alarm fires when its oldest message is older than this share of the shortest TimeoutSeconds of the Worker tasks queueing to it (read from the generated definitions)."
  type        = number
  default     = 0.5
  nullable    = false

  validation {
    condition     = var.queue_age_alarm_share > 0 && var.queue_age_alarm_share < 1
    error_message = "queue_age_alarm_share must be between 0 and 1, both excluded."
  }
}

variable "semaphore_wait_alarm_seconds" {
  description = "A waiting room's wait alarm fires when the head of its line has waited longer than this for a slot."
  type        = number
  default     = 900
  nullable    = false

  validation {
    condition     = var.semaphore_wait_alarm_seconds >= 1 && floor(var.semaphore_wait_alarm_seconds) == var.semaphore_wait_alarm_seconds
    error_message = "semaphore_wait_alarm_seconds must be a whole number >= 1."
  }
}

variable "execution_time_bound_seconds" {
  description = "How long an execution may run before its workflow's running-too-long alarm fires, unless `execution_time_bounds` names the workflow. The run is counted from the execution's start (the watchdog's OldestRunningSeconds), a waiting room's wait included."
  type        = number
  default     = 3600
  nullable    = false

  validation {
    condition     = var.execution_time_bound_seconds >= 60 && var.execution_time_bound_seconds <= 31536000 && floor(var.execution_time_bound_seconds) == var.execution_time_bound_seconds
    error_message = "execution_time_bound_seconds must be a whole number from 60 to 31536000."
  }
}

variable "execution_time_bounds" {
  description = "Per workflow, the run time in seconds past which its running-too-long alarm fires (overrides `execution_time_bound_seconds`)."
  type        = map(number)
  default     = {}
  nullable    = false

  validation {
    condition     = alltrue([for s in values(var.execution_time_bounds) : s >= 60 && s <= 31536000 && floor(s) == s])
    error_message = "Each bound must be a whole number of seconds from 60 to 31536000."
  }

  validation {
    condition     = alltrue([for name in keys(var.execution_time_bounds) : contains(keys(var.workflows), name)])
    error_message = "execution_time_bounds names a workflow that is not deployed."
  }
}

variable "lambda_runtime" {
  description = "Python runtime of every Lambda function."
  type        = string
  default     = "python3.12"
}

variable "tracing_enabled" {
  description = "X-Ray tracing of state machines and functions."
  type        = bool
  default     = true
}

variable "sfn_include_execution_data" {
  description = "Log execution data (payloads) of the state machines. Off by default."
  type        = bool
  default     = false
}

variable "gatekeeper_sweep_schedule" {
  description = "Schedule of the waiting-room sweeps (one per semaphore, through its message group)."
  type        = string
  default     = "rate(5 minutes)"
}

# ---------------------------------------------------------------------------------------------
# Large payloads (payloads.tf)
# ---------------------------------------------------------------------------------------------

variable "payload_bucket_enabled" {
  description = "Whether task outputs over `payload_threshold_bytes` travel through an S3 bucket (a claim check) instead of failing with Stepqueue.OutputTooLarge past 256 KiB. Creates the bucket and lets each worker store under its own prefix and read its workflow's."
  type        = bool
  default     = false
  nullable    = false
}

variable "payload_bucket_name" {
  description = "Name of the payload bucket. null: `{name_prefix}{stage-}stepqueue-payloads-{account}-{region}`; set it when that is over S3's 63 characters (a long prefix and stage)."
  type        = string
  default     = null

  validation {
    condition     = var.payload_bucket_name == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", coalesce(var.payload_bucket_name, "x")))
    error_message = "payload_bucket_name must be 3-63 characters of [a-z0-9.-], starting and ending with a letter or digit, or null."
  }
}

variable "payload_threshold_bytes" {
  description = "Outputs larger than this many bytes of UTF-8 JSON are stored in the payload bucket and replaced by a reference. Below 256 KiB so that a result merged into its state's input (ResultPath) still fits Step Functions' 256 KiB."
  type        = number
  default     = 204800

  validation {
    condition     = var.payload_threshold_bytes >= 1024 && var.payload_threshold_bytes <= 262144 && floor(var.payload_threshold_bytes) == var.payload_threshold_bytes
    error_message = "payload_threshold_bytes must be a whole number from 1024 to 262144 (256 KiB, the most Step Functions takes)."
  }
}

variable "payload_max_bytes" {
  description = "Largest payload a worker stores or reads (one output; all references of one input together). Bounded by the worker's memory: the payload is held in memory as bytes and as parsed JSON."
  type        = number
  default     = 33554432

  validation {
    condition     = var.payload_max_bytes >= 262144 && var.payload_max_bytes <= 1073741824 && floor(var.payload_max_bytes) == var.payload_max_bytes
    error_message = "payload_max_bytes must be a whole number from 262144 (256 KiB) to 1073741824 (1 GiB)."
  }
}

variable "payload_expiration_days" {
  description = "Days after which a stored payload is deleted by the bucket's lifecycle rule. Keep it longer than an execution may run plus the 14 days within which it may be redriven: a payload read after it expired fails its task with Stepqueue.PayloadUnavailable."
  type        = number
  default     = 30

  validation {
    condition     = var.payload_expiration_days >= 1 && var.payload_expiration_days <= 3650 && floor(var.payload_expiration_days) == var.payload_expiration_days
    error_message = "payload_expiration_days must be a whole number from 1 to 3650."
  }
}

variable "payload_bucket_force_destroy" {
  description = "Whether `destroy` deletes the payload bucket with payloads still in it (false: destroy fails until they expire or are deleted)."
  type        = bool
  default     = false
  nullable    = false
}

# ---------------------------------------------------------------------------------------------
# The start queue (start_queue.tf)
# ---------------------------------------------------------------------------------------------

variable "start_queue_enabled" {
  description = "Create the start queue, its DLQ and the starter (modules/start_queue), through which `stepqueue submit` starts executions at a bounded rate with idempotent names."
  type        = bool
  default     = true
  nullable    = false
}

variable "start_queue_starts_per_second" {
  description = "The start queue's bound on StartExecution calls per second. AWS's default quota for standard workflows refills 300 a second in us-east-1, us-west-2 and eu-west-1 and 150 elsewhere, per account and region, shared with every other caller."
  type        = number
  default     = 100

  validation {
    condition     = var.start_queue_starts_per_second >= 1 && var.start_queue_starts_per_second <= 10000
    error_message = "start_queue_starts_per_second must be from 1 to 10000."
  }
}

variable "start_queue_max_concurrency" {
  description = "Starters at most (the start queue's event source mapping maximum concurrency, reserved for the starter); each paces itself at start_queue_starts_per_second / start_queue_max_concurrency."
  type        = number
  default     = 5

  validation {
    condition     = var.start_queue_max_concurrency >= 2 && var.start_queue_max_concurrency <= 1000 && floor(var.start_queue_max_concurrency) == var.start_queue_max_concurrency
    error_message = "start_queue_max_concurrency must be a whole number from 2 to 1000."
  }
  # The start queue module's own check, in this configuration's terms: a batch of 10 (the
  # module's default) must fit a starter's 45 s (timeout 60 s, 15 s kept back) at its pace.
  validation {
    condition     = var.start_queue_max_concurrency <= var.start_queue_starts_per_second * 4.5
    error_message = "start_queue_max_concurrency must be at most start_queue_starts_per_second × 4.5: each starter paces itself at start_queue_starts_per_second / start_queue_max_concurrency, and a batch of 10 must fit its 45 s. Lower start_queue_max_concurrency or raise start_queue_starts_per_second."
  }
}
