# stepqueue root: every workflow of the generator's output (var.workflows, var.semaphores from
# workflows.tfvars.json) becomes, per worker, a queue + DLQ and a worker Lambda, and per
# workflow, a state machine; one semaphore table and one gatekeeper (its FIFO waiting room)
# serve the deployment once a workflow has a semaphore.
#
# Dependencies (no cycle): queues -> workers; queues + table + gatekeeper -> state machines.
# The gatekeeper names the state machines by their static ARNs, since each state
# machine's definition carries the gatekeeper's queue URL.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  # The stage goes into every name so that stages can share one account; with no stage the
  # names are those of deployments made before stages existed.
  prefix = "${var.name_prefix}${var.stage == "" ? "" : "${var.stage}-"}"

  generated_dir   = coalesce(var.generated_dir, "${path.root}/../build/generated")
  lambda_zip_path = coalesce(var.lambda_zip_path, "${path.root}/../build/lambda/stepqueue.zip")

  # stepqueue.deploy.lambda_zip writes the base64 SHA-256 next to the zip; hashing the zip ourselves is the
  # fallback (same value).
  lambda_zip_hash = (
    fileexists("${local.lambda_zip_path}.sha256")
    ? trimspace(file("${local.lambda_zip_path}.sha256"))
    : filebase64sha256(local.lambda_zip_path)
  )

  # One entry per (workflow, worker), keyed "workflow/worker" (workers have no "/" nor "-").
  workers = merge([
    for wf_name, wf in var.workflows : {
      for wk_name, wk in wf.workers : "${wf_name}/${wk_name}" => merge(wk, {
        workflow = wf_name
        worker   = wk_name
        name     = "${local.prefix}${wf_name}-${wk_name}"
      })
    }
  ]...)

  # A worker with its own artifact (its dependencies, docs/contracts.md) ships that zip,
  # relative to the shared zip's directory, with its hash beside it; the others share the zip.
  lambda_dir = dirname(local.lambda_zip_path)
  worker_zip = {
    for key, w in local.workers : key => w.artifact == null ? {
      path = local.lambda_zip_path
      hash = local.lambda_zip_hash
      } : {
      path = "${local.lambda_dir}/${w.artifact}"
      hash = (
        fileexists("${local.lambda_dir}/${w.artifact}.sha256")
        ? trimspace(file("${local.lambda_dir}/${w.artifact}.sha256"))
        : filebase64sha256("${local.lambda_dir}/${w.artifact}")
      )
    }
  }

  # What a worker's environment values and statement resources may reference as ${name}
  # (docs/contracts.md). The payload bucket's names exist only with the bucket: a reference
  # without it is refused by var.workflows' validation. Its ARN is built from its name rather
  # than read from the bucket, so that the policies are known, and reviewable, at plan time.
  worker_references = merge(
    {
      account_id = data.aws_caller_identity.current.account_id
      region     = data.aws_region.current.name
      partition  = data.aws_partition.current.partition
      prefix     = local.prefix
    },
    var.payload_bucket_enabled ? {
      payload_bucket_name = local.payload_bucket_name
      payload_bucket_arn  = "arn:${data.aws_partition.current.partition}:s3:::${local.payload_bucket_name}"
    } : {},
  )

  worker_environment = {
    for key, w in local.workers : key => { for name, value in w.environment : name => templatestring(value, local.worker_references) }
  }

  worker_policy_statements = {
    for key, w in local.workers : key => [
      for s in w.policy_statements : merge(s, {
        resources = [for r in s.resources : templatestring(r, local.worker_references)]
      })
    ]
  }

  # Semaphores used by at least one workflow. A workflow naming a semaphore absent from
  # var.semaphores fails here, at plan time, with the missing key.
  used_semaphores  = toset([for wf in values(var.workflows) : wf.semaphore if wf.semaphore != null])
  semaphores       = { for name in local.used_semaphores : name => var.semaphores[name] }
  create_semaphore = length(local.semaphores) > 0

  # The gatekeeper serves every semaphore (each waits in its waiting room, the only mode).
  create_gatekeeper = local.create_semaphore

  state_machine_arn = {
    for wf_name in keys(var.workflows) : wf_name => "arn:${data.aws_partition.current.partition}:states:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:stateMachine:${local.prefix}${wf_name}"
  }

  # The settings of the deployment's own functions (gatekeeper, starter, watchdog): one
  # object, as modules/lambda_function takes it.
  function_settings = {
    zip_path           = local.lambda_zip_path
    source_code_hash   = local.lambda_zip_hash
    runtime            = var.lambda_runtime
    kms_key_arn        = var.kms_key_arn
    tracing_mode       = var.tracing_enabled ? "Active" : "PassThrough"
    log_retention_days = var.log_retention_days
    log_kms_key_arn    = var.kms_key_arn
  }

  semaphore_table_name = "${local.prefix}stepqueue-semaphores"
  gatekeeper_name      = "${local.prefix}stepqueue-gatekeeper"
}

module "queue" {
  source   = "../modules/queue"
  for_each = local.workers

  name = each.value.name

  visibility_timeout_seconds = each.value.visibility_timeout_seconds
  message_retention_seconds  = each.value.message_retention_seconds
  delay_seconds              = each.value.delay_seconds
  max_receive_count          = each.value.max_receive_count

  kms_key_arn         = var.kms_key_arn
  alarm_sns_topic_arn = var.alarm_sns_topic_arn
}

module "worker" {
  source   = "../modules/worker"
  for_each = local.workers

  function_name = each.value.name
  description   = "stepqueue worker ${each.value.worker} of workflow ${each.value.workflow}"
  handler       = each.value.handler
  secrets       = each.value.secrets

  function = merge(local.function_settings, {
    zip_path         = local.worker_zip[each.key].path
    source_code_hash = local.worker_zip[each.key].hash
    architecture     = each.value.architecture
    layers           = each.value.layers

    timeout_seconds      = each.value.timeout_seconds
    memory_mb            = each.value.memory_mb
    reserved_concurrency = each.value.reserved_concurrency
    ephemeral_storage_mb = each.value.ephemeral_storage_mb

    # The runtime fails a record it could not start before the deadline on its last receive,
    # rather than giving it back into the DLQ unrun: it needs the queue's count.
    environment = merge(local.worker_environment[each.key], {
      STEPQUEUE_MAX_RECEIVE_COUNT = tostring(each.value.max_receive_count)
    })

    subnet_ids         = each.value.subnet_ids
    security_group_ids = each.value.security_group_ids

    # The worker's own extra permissions, on its role only.
    policy_statements   = local.worker_policy_statements[each.key]
    managed_policy_arns = each.value.managed_policy_arns

    log_retention_days = coalesce(each.value.log_retention_days, var.log_retention_days)

    # Over the provider's default tags.
    tags = each.value.tags
  })

  queue_arn         = module.queue[each.key].queue_arn
  queue_kms_key_arn = var.kms_key_arn

  # Large outputs through the payload bucket (payloads.tf), or null.
  payload_store = local.payload_store[each.key]

  event_source_mapping_enabled = var.event_source_mapping_enabled
  batch_size                   = each.value.batch_size
  batching_window_seconds      = each.value.batching_window_seconds
  max_concurrency              = each.value.max_concurrency
}

module "semaphore" {
  source = "../modules/semaphore"
  count  = local.create_semaphore ? 1 : 0

  name        = local.semaphore_table_name
  semaphores  = local.semaphores
  kms_key_arn = var.kms_key_arn
}

module "gatekeeper" {
  source = "../modules/gatekeeper"
  count  = local.create_gatekeeper ? 1 : 0

  name     = local.gatekeeper_name
  function = local.function_settings

  table_name        = module.semaphore[0].table_name
  table_arn         = module.semaphore[0].table_arn
  table_kms_key_arn = var.kms_key_arn

  semaphores = {
    for name, s in local.semaphores : name => {
      limit              = s.limit
      admission          = s.admission
      state_machine_arns = sort([for wf_name, wf in var.workflows : local.state_machine_arn[wf_name] if wf.semaphore == name])
    }
  }

  event_source_mapping_enabled = var.event_source_mapping_enabled
  sweep_schedule_expression    = var.gatekeeper_sweep_schedule

  kms_key_arn         = var.kms_key_arn
  alarm_sns_topic_arn = var.alarm_sns_topic_arn
}

module "state_machine" {
  source   = "../modules/state_machine"
  for_each = var.workflows

  name = "${local.prefix}${each.key}"

  # The generator's ASL is a templatefile() template: ${queue_url.<worker>},
  # ${gatekeeper_queue_url} (releases) and ${arrivals_queue_url} (acquires, the workflow's
  # semaphore's own queue) are its only placeholders (docs/contracts.md); the last two are ""
  # when the workflow has no semaphore.
  definition = templatefile("${local.generated_dir}/${each.value.definition_file}", {
    queue_url            = { for wk_name in keys(each.value.workers) : wk_name => module.queue["${each.key}/${wk_name}"].queue_url }
    gatekeeper_queue_url = each.value.semaphore != null ? module.gatekeeper[0].queue_url : ""
    arrivals_queue_url   = each.value.semaphore != null ? module.gatekeeper[0].arrivals_queue_urls[each.value.semaphore] : ""
  })

  # Its worker queues, and the waiting room it acquires (its semaphore's arrivals queue) and
  # releases (the control queue) through. The gatekeeper's queues use the same key as the
  # worker queues.
  queue_arns = concat(
    [for wk_name in keys(each.value.workers) : module.queue["${each.key}/${wk_name}"].queue_arn],
    each.value.semaphore != null ? [module.gatekeeper[0].queue_arn, module.gatekeeper[0].arrivals_queue_arns[each.value.semaphore]] : [],
  )
  queue_kms_key_arn = var.kms_key_arn

  include_execution_data = var.sfn_include_execution_data
  tracing_enabled        = var.tracing_enabled
  log_retention_days     = var.log_retention_days
  log_kms_key_arn        = var.kms_key_arn
}

# The reclaimer freed the slots of polling semaphores (retired): a deployment that had one
# loses it, its function, role, log group, EventBridge rules and their permission, on the
# next apply. The gatekeeper's `ended` rule and sweep do its job for the waiting room.
removed {
  from = module.reclaimer

  lifecycle {
    destroy = true
  }
}
