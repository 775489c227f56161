output "account_id" {
  description = "Account the deployment is in (the emulator's is 123456789012)."
  value       = data.aws_caller_identity.current.account_id
}

output "region" {
  description = "Region of the deployment."
  value       = data.aws_region.current.name
}

output "partition" {
  description = "Partition of the deployment."
  value       = data.aws_partition.current.partition
}

output "state_machine_arns" {
  description = "State machine ARN by workflow."
  value       = { for wf, m in module.state_machine : wf => m.state_machine_arn }
}

output "state_machine_role_names" {
  description = "State machine IAM role name by workflow."
  value       = { for wf, m in module.state_machine : wf => m.role_name }
}

output "queue_urls" {
  description = "Worker queue URL by workflow, then worker."
  value = {
    for wf, w in var.workflows : wf => { for wk in keys(w.workers) : wk => module.queue["${wf}/${wk}"].queue_url }
  }
}

output "queue_arns" {
  description = "Worker queue ARN by workflow, then worker."
  value = {
    for wf, w in var.workflows : wf => { for wk in keys(w.workers) : wk => module.queue["${wf}/${wk}"].queue_arn }
  }
}

output "dlq_urls" {
  description = "Dead-letter queue URL by workflow, then worker."
  value = {
    for wf, w in var.workflows : wf => { for wk in keys(w.workers) : wk => module.queue["${wf}/${wk}"].dlq_url }
  }
}

output "function_names" {
  description = "Worker Lambda function name by workflow, then worker."
  value = {
    for wf, w in var.workflows : wf => { for wk in keys(w.workers) : wk => module.worker["${wf}/${wk}"].function_name }
  }
}

output "workers" {
  description = "Everything a local event-source runner needs, by workflow, then worker: the event source mapping's settings as deployed, the queue and the function."
  value = {
    for wf, w in var.workflows : wf => {
      for wk in keys(w.workers) : wk => {
        function_name              = module.worker["${wf}/${wk}"].function_name
        role_name                  = module.worker["${wf}/${wk}"].role_name
        handler                    = w.workers[wk].handler
        queue_url                  = module.queue["${wf}/${wk}"].queue_url
        queue_arn                  = module.queue["${wf}/${wk}"].queue_arn
        dlq_url                    = module.queue["${wf}/${wk}"].dlq_url
        visibility_timeout_seconds = module.queue["${wf}/${wk}"].visibility_timeout_seconds
        max_receive_count          = module.queue["${wf}/${wk}"].max_receive_count
        event_source_mapping_uuid  = module.worker["${wf}/${wk}"].event_source_mapping.uuid
        enabled                    = module.worker["${wf}/${wk}"].event_source_mapping.enabled
        batch_size                 = module.worker["${wf}/${wk}"].event_source_mapping.batch_size
        batching_window_seconds    = module.worker["${wf}/${wk}"].event_source_mapping.batching_window_seconds
        max_concurrency            = module.worker["${wf}/${wk}"].event_source_mapping.max_concurrency
        function_response_types    = module.worker["${wf}/${wk}"].event_source_mapping.function_response_types
        timeout_seconds            = w.workers[wk].timeout_seconds
        memory_mb                  = w.workers[wk].memory_mb
      }
    }
  }
}

output "semaphore_table_name" {
  description = "Name of the semaphore table, or null when no workflow uses a semaphore."
  value       = try(module.semaphore[0].table_name, null)
}

output "semaphore_table_arn" {
  description = "ARN of the semaphore table, or null."
  value       = try(module.semaphore[0].table_arn, null)
}

output "semaphore_modes" {
  description = "Mode by semaphore used by a workflow: waiting_room, the only one since polling was retired."
  value       = { for name, s in local.semaphores : name => s.mode }
}

output "gatekeeper_queue_url" {
  description = "URL of the waiting room's control queue (releases, reclaims, limit changes of every semaphore), or null when no workflow has a semaphore."
  value       = try(module.gatekeeper[0].queue_url, null)
}

output "gatekeeper_arrivals_queue_urls" {
  description = "URL of each semaphore's arrivals queue (the Acquire state's destination), by semaphore; empty when no workflow has a semaphore."
  value       = try(module.gatekeeper[0].arrivals_queue_urls, {})
}

output "gatekeeper_dlq_url" {
  description = "URL of the waiting room's dead-letter queue, or null."
  value       = try(module.gatekeeper[0].dlq_url, null)
}

output "gatekeeper_function_name" {
  description = "Name of the gatekeeper Lambda function, or null."
  value       = try(module.gatekeeper[0].function_name, null)
}

output "gatekeeper_role_name" {
  description = "Name of the gatekeeper's IAM role, or null."
  value       = try(module.gatekeeper[0].role_name, null)
}

output "payload_bucket_name" {
  description = "Name of the payload bucket (large outputs, payloads.tf), or null when payload_bucket_enabled is false."
  value       = try(module.payload_bucket[0].bucket_name, null)
}

output "dashboard_name" {
  description = "Name of the deployment's CloudWatch dashboard, or null when monitoring is off."
  value       = try(module.monitoring[0].dashboard_name, null)
}

output "monitoring_alarm_names" {
  description = "Monitoring alarm name by `<kind>/<subject>` (modules/monitoring `alarm_names`); {} when monitoring is off."
  value       = try(module.monitoring[0].alarm_names, {})
}

output "start_queue_url" {
  description = "URL of the start queue (`stepqueue submit` sends there), or null when start_queue_enabled is false."
  value       = try(module.start_queue[0].queue_url, null)
}

output "start_queue_dlq_url" {
  description = "URL of the start DLQ (messages that could not start, with the reason in message attributes), or null."
  value       = try(module.start_queue[0].dlq_url, null)
}

output "starter_function_name" {
  description = "Name of the starter Lambda function, or null."
  value       = try(module.start_queue[0].function_name, null)
}
