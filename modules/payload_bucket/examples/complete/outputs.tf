output "bucket_name" {
  description = "Name of the payload bucket (modules/worker `payload_store.bucket_name`)."
  value       = module.payload_bucket.bucket_name
}

output "bucket_arn" {
  description = "ARN of the payload bucket (modules/worker `payload_store.bucket_arn`)."
  value       = module.payload_bucket.bucket_arn
}

output "expiration_days" {
  description = "Days after which a stored payload is deleted."
  value       = module.payload_bucket.expiration_days
}
