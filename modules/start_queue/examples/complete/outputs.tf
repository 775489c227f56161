output "queue_url" {
  description = "URL of the start queue."
  value       = module.start_queue.queue_url
}

output "dlq_url" {
  description = "URL of the start DLQ."
  value       = module.start_queue.dlq_url
}
