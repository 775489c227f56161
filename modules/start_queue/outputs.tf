output "queue_url" {
  description = "URL of the start queue: where `stepqueue submit` sends."
  value       = module.queue.queue_url
}

output "queue_arn" {
  description = "ARN of the start queue."
  value       = module.queue.queue_arn
}

output "queue_name" {
  description = "Name of the start queue."
  value       = module.queue.queue_name
}

output "dlq_name" {
  description = "Name of the start DLQ."
  value       = module.queue.dlq_name
}

output "dlq_url" {
  description = "URL of the start DLQ: messages that could not start, each with its reason in message attributes."
  value       = module.queue.dlq_url
}

output "dlq_arn" {
  description = "ARN of the start DLQ."
  value       = module.queue.dlq_arn
}

output "dlq_alarm_arn" {
  description = "ARN of the alarm on anything in the start DLQ, or null."
  value       = module.queue.dlq_alarm_arn
}

output "function_name" {
  description = "Name of the starter Lambda function."
  value       = module.function.function_name
}

output "function_arn" {
  description = "ARN of the starter Lambda function."
  value       = module.function.function_arn
}

output "role_name" {
  description = "Name of the starter's IAM role."
  value       = module.function.role_name
}

output "role_arn" {
  description = "ARN of the starter's IAM role."
  value       = module.function.role_arn
}

output "log_group_name" {
  description = "Name of the starter's log group."
  value       = module.function.log_group_name
}

output "event_source_mapping_uuid" {
  description = "UUID of the event source mapping from the start queue to the starter."
  value       = aws_lambda_event_source_mapping.this.uuid
}

output "starts_per_second" {
  description = "The deployment's bound on StartExecution calls per second (max_concurrency starters at starts_per_second / max_concurrency each)."
  value       = var.starts_per_second
}
