# The deployment's dashboard and alarms (modules/monitoring), on by default.
#
# A queue's age alarm needs the TimeoutSeconds of the tasks that queue to it, which only the
# generated definitions hold (workflows.tfvars.json carries the worker's Lambda settings). The
# generator writes every definition as JSON with sorted keys and gives every Worker task a
# TimeoutSeconds (the spec's or the default), so inside a task's object its own TimeoutSeconds
# is the first one after its `"QueueUrl": "${queue_url.<worker>}"`: the match below reads it.
# tests/terraform/test_monitoring.py checks the result against the definitions parsed as JSON.

locals {
  task_timeouts = merge([
    for wf_name, wf in var.workflows : {
      for m in regexall(
        "\"QueueUrl\":\\s*\"\\$\\{queue_url\\.([a-z0-9_]+)\\}\"(?s:.*?)\"TimeoutSeconds\":\\s*([0-9]+)",
        file("${local.generated_dir}/${wf.definition_file}"),
      ) : "${wf_name}/${m[0]}" => tonumber(m[1])...
    }
  ]...)
}

# The watchdog (modules/watchdog) lists every workflow's RUNNING executions every 5 minutes:
# the running-too-long alarms read its OldestRunningSeconds, which nothing else measures while
# the execution still runs. It exists for those alarms, so with them.
module "watchdog" {
  source = "../modules/watchdog"
  count  = var.monitoring_enabled && length(var.workflows) > 0 ? 1 : 0

  function_name = "${local.prefix}stepqueue-watchdog"
  function      = local.function_settings

  # Static ARNs: the watchdog need not wait for the state machines.
  state_machine_arns = values(local.state_machine_arn)
}

module "monitoring" {
  source = "../modules/monitoring"
  count  = var.monitoring_enabled ? 1 : 0

  name = "${local.prefix}stepqueue"

  workflows = {
    for wf_name, wf in var.workflows : wf_name => {
      # The static names, known at plan time (the module's outputs are known only after
      # apply), so that a plan shows every alarm's dimensions and the dashboard whole.
      state_machine_name    = "${local.prefix}${wf_name}"
      state_machine_arn     = local.state_machine_arn[wf_name]
      running_bound_seconds = lookup(var.execution_time_bounds, wf_name, var.execution_time_bound_seconds)
    }
  }

  workers = {
    for key, wk in local.workers : key => {
      workflow             = wk.workflow
      worker               = wk.worker
      queue_name           = module.queue[key].queue_name
      dlq_name             = module.queue[key].dlq_name
      function_name        = module.worker[key].function_name
      max_concurrency      = wk.max_concurrency
      task_timeout_seconds = try(min(local.task_timeouts[key]...), null)
      # The worker's own extra permissions (docs/contracts.md), as its role holds them.
      permissions = {
        statements          = [for st in local.worker_policy_statements[key] : { sid = st.sid, actions = st.actions, resources = st.resources }]
        managed_policy_arns = wk.managed_policy_arns
        secret_arns         = sort(distinct(values(wk.secrets)))
      }
    }
  }

  semaphores               = { for name, s in local.semaphores : name => { limit = s.limit } }
  gatekeeper_function_name = try(module.gatekeeper[0].function_name, null)
  watchdog_function_name   = try(module.watchdog[0].function_name, null)

  # The start queue (start_queue.tf), when there is one.
  start_queue = try({
    queue_name        = module.start_queue[0].queue_name
    dlq_name          = module.start_queue[0].dlq_name
    function_name     = module.start_queue[0].function_name
    starts_per_second = module.start_queue[0].starts_per_second
  }, null)

  alarms                           = var.monitoring_alarms
  alarm_sns_topic_arn              = var.alarm_sns_topic_arn
  queue_age_share                  = var.queue_age_alarm_share
  semaphore_wait_threshold_seconds = var.semaphore_wait_alarm_seconds
}
