output "table_name" {
  description = "Name of the semaphore table."
  value       = aws_dynamodb_table.this.name
}

output "table_arn" {
  description = "ARN of the semaphore table."
  value       = aws_dynamodb_table.this.arn
}

output "kms_key_arn" {
  description = "Customer KMS key of the table, or null."
  value       = var.kms_key_arn
}

output "semaphore_names" {
  description = "Names of the pre-created semaphore items."
  value       = sort(keys(aws_dynamodb_table_item.semaphore))
}
