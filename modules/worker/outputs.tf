output "function_name" {
  description = "Name of the Lambda function."
  value       = try(aws_lambda_function.this.function_name, null)
}

output "function_arn" {
  description = "ARN of the Lambda function."
  value       = try(aws_lambda_function.this.arn, null)
}

output "role_name" {
  description = "Name of the function's IAM role."
  value       = try(aws_iam_role.this.name, null)
}

output "role_arn" {
  description = "ARN of the function's IAM role."
  value       = try(aws_iam_role.this.arn, null)
}

output "log_group_name" {
  description = "Name of the function's log group."
  value       = try(aws_cloudwatch_log_group.this.name, null)
}

output "event_source_mapping_uuid" {
  description = "UUID of the SQS event source mapping."
  value       = try(aws_lambda_event_source_mapping.this.uuid, null)
}

output "event_source_mapping" {
  description = "Settings of the event source mapping, as the local runner needs them."
  value = {
    uuid                    = try(aws_lambda_event_source_mapping.this.uuid, null)
    enabled                 = try(aws_lambda_event_source_mapping.this.enabled, null)
    function_name           = try(aws_lambda_function.this.function_name, null)
    batch_size              = try(aws_lambda_event_source_mapping.this.batch_size, null)
    batching_window_seconds = try(aws_lambda_event_source_mapping.this.maximum_batching_window_in_seconds, null)
    max_concurrency         = try(aws_lambda_event_source_mapping.this.scaling_config[0].maximum_concurrency, null)
    function_response_types = try(aws_lambda_event_source_mapping.this.function_response_types, null)
  }
}
