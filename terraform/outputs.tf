output "account_id" {
  description = "Account the deployment is in (the emulator's is 123456789012)."
  value       = try(data.aws_caller_identity.current.account_id, null)
}

output "region" {
  description = "Region of the deployment."
  value       = try(data.aws_region.current.name, null)
}

output "partition" {
  description = "Partition of the deployment."
  value       = try(data.aws_partition.current.partition, null)
}

output "state_machine_arns" {
  description = "State machine ARN by workflow."
  value       = { for wf, m in module.state_machine : wf => try(m.state_machine_arn, null) }
}

output "state_machine_role_names" {
  description = "State machine IAM role name by workflow."
  value       = { for wf, m in module.state_machine : wf => try(m.role_name, null) }
}

output "queue_urls" {
  description = "Worker queue URL by workflow, then worker."
  value = {
    for wf, w in var.workflows : wf => { for wk in keys(w.workers) : wk => try(module.queue["${wf}/${wk}"].queue_url, null) }
  }
}

output "queue_arns" {
  description = "Worker queue ARN by workflow, then worker."
  value = {
    for wf, w in var.workflows : wf => { for wk in keys(w.workers) : wk => try(module.queue["${wf}/${wk}"].queue_arn, null) }
  }
}

output "dlq_urls" {
  description = "Dead-letter queue URL by workflow, then worker."
  value = {
    for wf, w in var.workflows : wf => { for wk in keys(w.workers) : wk => try(module.queue["${wf}/${wk}"].dlq_url, null) }
  }
}

output "function_names" {
  description = "Worker Lambda function name by workflow, then worker."
  value = {
    for wf, w in var.workflows : wf => { for wk in keys(w.workers) : wk => try(module.worker["${wf}/${wk}"].function_name, null) }
  }
}

output "workers" {
  description = "Everything a local event-source runner needs, by workflow, then worker: the event source mapping's settings as deployed, the queue and the function."
  value = {
    for wf, w in var.workflows : wf => {
      for wk in keys(w.workers) : wk => {
        function_name              = try(module.worker["${wf}/${wk}"].function_name, null)
        role_name                  = try(module.worker["${wf}/${wk}"].role_name, null)
        handler                    = w.workers[wk].handler
        queue_url                  = try(module.queue["${wf}/${wk}"].queue_url, null)
        queue_arn                  = try(module.queue["${wf}/${wk}"].queue_arn, null)
        dlq_url                    = try(module.queue["${wf}/${wk}"].dlq_url, null)
        visibility_timeout_seconds = try(module.queue["${wf}/${wk}"].visibility_timeout_seconds, null)
        max_receive_count          = try(module.queue["${wf}/${wk}"].max_receive_count, null)
        event_source_mapping_uuid  = try(module.worker["${wf}/${wk}"].event_source_mapping.uuid, null)
        enabled                    = try(module.worker["${wf}/${wk}"].event_source_mapping.enabled, null)
        batch_size                 = try(module.worker["${wf}/${wk}"].event_source_mapping.batch_size, null)
        batching_window_seconds    = try(module.worker["${wf}/${wk}"].event_source_mapping.batching_window_seconds, null)
        max_concurrency            = try(module.worker["${wf}/${wk}"].event_source_mapping.max_concurrency, null)
        function_response_types    = try(module.worker["${wf}/${wk}"].event_source_mapping.function_response_types, null)
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

output "reclaimer_function_name" {
  description = "Name of the reclaimer Lambda function, or null."
  value       = try(module.reclaimer[0].function_name, null)
}

output "reclaimer_role_name" {
  description = "Name of the reclaimer's IAM role, or null."
  value       = try(module.reclaimer[0].role_name, null)
}
