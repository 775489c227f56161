output "function_name" {
  description = "Name of the watchdog Lambda function (the `Function` dimension of its metrics)."
  value       = module.function.function_name
}

output "function_arn" {
  description = "ARN of the watchdog Lambda function."
  value       = module.function.function_arn
}

output "role_name" {
  description = "Name of the watchdog's IAM role."
  value       = module.function.role_name
}

output "role_arn" {
  description = "ARN of the watchdog's IAM role."
  value       = module.function.role_arn
}

output "log_group_name" {
  description = "Name of the watchdog's log group."
  value       = module.function.log_group_name
}

output "schedule_rule_name" {
  description = "Name of the scheduled rule."
  value       = aws_cloudwatch_event_rule.this.name
}

output "schedule_rule_arn" {
  description = "ARN of the scheduled rule."
  value       = aws_cloudwatch_event_rule.this.arn
}
