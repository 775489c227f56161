output "function_name" {
  description = "Name of the Lambda function."
  value       = module.function.function_name
}

output "function_arn" {
  description = "ARN of the Lambda function."
  value       = module.function.function_arn
}

output "role_name" {
  description = "Name of the function's IAM role."
  value       = module.function.role_name
}

output "role_arn" {
  description = "ARN of the function's IAM role."
  value       = module.function.role_arn
}

output "log_group_name" {
  description = "Name of the function's log group."
  value       = module.function.log_group_name
}

output "event_source_mapping_uuid" {
  description = "UUID of the SQS event source mapping."
  value       = aws_lambda_event_source_mapping.this.uuid
}

output "event_source_mapping" {
  description = "Settings of the event source mapping, as the local runner needs them."
  value = {
    uuid                    = aws_lambda_event_source_mapping.this.uuid
    enabled                 = aws_lambda_event_source_mapping.this.enabled
    function_name           = module.function.function_name
    batch_size              = aws_lambda_event_source_mapping.this.batch_size
    batching_window_seconds = aws_lambda_event_source_mapping.this.maximum_batching_window_in_seconds
    max_concurrency         = aws_lambda_event_source_mapping.this.scaling_config[0].maximum_concurrency
    function_response_types = aws_lambda_event_source_mapping.this.function_response_types
  }
}
