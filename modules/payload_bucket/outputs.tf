output "bucket_name" {
  description = "Name of the payload bucket."
  value       = aws_s3_bucket.this.bucket
}

output "bucket_arn" {
  description = "ARN of the payload bucket."
  value       = aws_s3_bucket.this.arn
}

output "expiration_days" {
  description = "Days after which a stored payload is deleted."
  value       = aws_s3_bucket_lifecycle_configuration.this.rule[0].expiration[0].days
}
