output "queue_url" {
  description = "URL of the waiting room (the definitions' gatekeeper_queue_url)."
  value       = module.gatekeeper.queue_url
}

output "function_name" {
  description = "Name of the gatekeeper function."
  value       = module.gatekeeper.function_name
}
