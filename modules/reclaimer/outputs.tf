output "function_name" {
  description = "Name of the reclaimer Lambda function."
  value       = try(aws_lambda_function.this.function_name, null)
}

output "function_arn" {
  description = "ARN of the reclaimer Lambda function."
  value       = try(aws_lambda_function.this.arn, null)
}

output "role_name" {
  description = "Name of the reclaimer's IAM role."
  value       = try(aws_iam_role.this.name, null)
}

output "role_arn" {
  description = "ARN of the reclaimer's IAM role."
  value       = try(aws_iam_role.this.arn, null)
}

output "log_group_name" {
  description = "Name of the reclaimer's log group."
  value       = try(aws_cloudwatch_log_group.this.name, null)
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
