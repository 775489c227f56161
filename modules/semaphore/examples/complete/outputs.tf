output "table_name" {
  description = "Name of the semaphore table."
  value       = module.semaphore.table_name
}
