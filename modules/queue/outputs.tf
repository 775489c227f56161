output "queue_id" {
  description = "URL of the work queue (the provider's id of a queue is its URL)."
  value       = aws_sqs_queue.this.id
}

output "queue_url" {
  description = "URL of the work queue."
  value       = aws_sqs_queue.this.url
}

output "queue_arn" {
  description = "ARN of the work queue."
  value       = aws_sqs_queue.this.arn
}

output "queue_name" {
  description = "Name of the work queue."
  value       = aws_sqs_queue.this.name
}

output "visibility_timeout_seconds" {
  description = "Visibility timeout of the work queue."
  value       = aws_sqs_queue.this.visibility_timeout_seconds
}

output "max_receive_count" {
  description = "Receives before a message moves to the DLQ."
  value       = var.max_receive_count
}

output "dlq_url" {
  description = "URL of the dead-letter queue."
  value       = aws_sqs_queue.dlq.url
}

output "dlq_arn" {
  description = "ARN of the dead-letter queue."
  value       = aws_sqs_queue.dlq.arn
}

output "dlq_name" {
  description = "Name of the dead-letter queue."
  value       = aws_sqs_queue.dlq.name
}

output "dlq_alarm_arn" {
  description = "ARN of the DLQ depth alarm, or null."
  value       = try(aws_cloudwatch_metric_alarm.dlq[0].arn, null)
}

output "kms_key_arn" {
  description = "The customer KMS key the queues are encrypted with, or null (SSE-SQS)."
  value       = var.kms_key_arn
}

output "queue_arn_static" {
  description = "ARN of the work queue built from its name (known at plan time, before the queue exists)."
  value       = local.queue_arn_static
}
