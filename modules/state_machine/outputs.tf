output "state_machine_arn" {
  description = "ARN of the state machine."
  value       = try(aws_sfn_state_machine.this.arn, null)
}

output "state_machine_name" {
  description = "Name of the state machine."
  value       = try(aws_sfn_state_machine.this.name, null)
}

output "role_name" {
  description = "Name of the state machine's IAM role."
  value       = try(aws_iam_role.this.name, null)
}

output "role_arn" {
  description = "ARN of the state machine's IAM role."
  value       = try(aws_iam_role.this.arn, null)
}

output "log_group_name" {
  description = "Name of the execution log group."
  value       = try(aws_cloudwatch_log_group.this.name, null)
}

output "log_group_arn" {
  description = "ARN of the execution log group."
  value       = try(aws_cloudwatch_log_group.this.arn, null)
}
