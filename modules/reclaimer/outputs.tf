output "function_name" {
  description = "Name of the reclaimer Lambda function."
  value       = module.function.function_name
}

output "function_arn" {
  description = "ARN of the reclaimer Lambda function."
  value       = module.function.function_arn
}

output "role_name" {
  description = "Name of the reclaimer's IAM role."
  value       = module.function.role_name
}

output "role_arn" {
  description = "ARN of the reclaimer's IAM role."
  value       = module.function.role_arn
}

output "log_group_name" {
  description = "Name of the reclaimer's log group."
  value       = module.function.log_group_name
}

output "status_change_rule_name" {
  description = "Name of the EventBridge status-change rule, or null."
  value       = try(aws_cloudwatch_event_rule.status_change[0].name, null)
}

output "status_change_rule_arn" {
  description = "ARN of the EventBridge status-change rule, or null."
  value       = try(aws_cloudwatch_event_rule.status_change[0].arn, null)
}

output "sweep_rule_name" {
  description = "Name of the scheduled sweep rule, or null."
  value       = try(aws_cloudwatch_event_rule.sweep[0].name, null)
}

output "sweep_rule_arn" {
  description = "ARN of the scheduled sweep rule, or null."
  value       = try(aws_cloudwatch_event_rule.sweep[0].arn, null)
}
