output "queue_url" {
  description = "URL of the work queue."
  value       = module.queue.queue_url
}

output "dlq_url" {
  description = "URL of the dead-letter queue."
  value       = module.queue.dlq_url
}
