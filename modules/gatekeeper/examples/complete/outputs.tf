output "queue_url" {
  description = "URL of the waiting room's control queue (the definitions' gatekeeper_queue_url)."
  value       = module.gatekeeper.queue_url
}

output "function_name" {
  description = "Name of the gatekeeper function."
  value       = module.gatekeeper.function_name
}

output "arrivals_queue_urls" {
  description = "Each semaphore's arrivals queue (the definitions' arrivals_queue_url)."
  value       = module.gatekeeper.arrivals_queue_urls
}
