output "queue_url" {
  description = "URL of the gatekeeper's control queue, shared by every semaphore (the `gatekeeper_queue_url` of the generated definitions: releases)."
  value       = aws_sqs_queue.this.url
}

output "queue_arn" {
  description = "ARN of the gatekeeper's control queue (the state machines need sqs:SendMessage on it)."
  value       = aws_sqs_queue.this.arn
}

output "arrivals_queue_urls" {
  description = "URL of each semaphore's arrivals queue, by semaphore (the `arrivals_queue_url` of its workflows' generated definitions: acquires)."
  value       = { for name, q in module.arrivals : name => q.queue_url }
}

output "arrivals_queue_arns" {
  description = "ARN of each semaphore's arrivals queue, by semaphore (its workflows' state machines need sqs:SendMessage on it)."
  value       = { for name, q in module.arrivals : name => q.queue_arn }
}

output "arrivals_dlq_urls" {
  description = "URL of each semaphore's arrivals dead-letter queue, by semaphore."
  value       = { for name, q in module.arrivals : name => q.dlq_url }
}

output "dlq_url" {
  description = "URL of the gatekeeper's dead-letter queue."
  value       = aws_sqs_queue.dlq.url
}

output "dlq_arn" {
  description = "ARN of the gatekeeper's dead-letter queue."
  value       = aws_sqs_queue.dlq.arn
}

output "function_name" {
  description = "Name of the gatekeeper Lambda function."
  value       = module.function.function_name
}

output "function_arn" {
  description = "ARN of the gatekeeper Lambda function."
  value       = module.function.function_arn
}

output "role_name" {
  description = "Name of the gatekeeper's IAM role."
  value       = module.function.role_name
}

output "role_arn" {
  description = "ARN of the gatekeeper's IAM role."
  value       = module.function.role_arn
}

output "log_group_name" {
  description = "Name of the gatekeeper's log group."
  value       = module.function.log_group_name
}

output "reserved_concurrency" {
  description = "Reserved concurrency of the function, also the control queue's event source mapping's maximum concurrency (each arrivals queue's is 2: one message group)."
  value       = local.concurrency
}

output "event_source_mapping" {
  description = "The event source mapping as deployed (what the local runner reads back)."
  value = {
    uuid       = aws_lambda_event_source_mapping.this.uuid
    enabled    = aws_lambda_event_source_mapping.this.enabled
    batch_size = aws_lambda_event_source_mapping.this.batch_size
  }
}

output "rule_names" {
  description = "EventBridge rule names by semaphore: `ended`, `redriven` and `sweep` (null without sweep rules)."
  value = {
    for name in keys(local.watched) : name => {
      ended    = aws_cloudwatch_event_rule.ended[name].name
      redriven = aws_cloudwatch_event_rule.redriven[name].name
      sweep    = contains(keys(aws_cloudwatch_event_rule.sweep), name) ? aws_cloudwatch_event_rule.sweep[name].name : null
    }
  }
}
