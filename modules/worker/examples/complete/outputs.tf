output "function_name" {
  description = "Name of the worker function."
  value       = module.worker.function_name
}

output "event_source_mapping" {
  description = "Settings of the event source mapping."
  value       = module.worker.event_source_mapping
}
