output "table_name" {
  description = "Name of the semaphore table."
  value       = try(aws_dynamodb_table.this.name, null)
}

output "table_arn" {
  description = "ARN of the semaphore table."
  value       = try(aws_dynamodb_table.this.arn, null)
}

output "kms_key_arn" {
  description = "Customer KMS key of the table, or null."
  value       = var.kms_key_arn
}

output "semaphore_names" {
  description = "Names of the pre-created semaphore items."
  value       = try(sort(keys(aws_dynamodb_table_item.semaphore)), [])
}
