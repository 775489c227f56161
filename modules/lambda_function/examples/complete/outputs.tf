output "function_name" {
  description = "Name of the function."
  value       = module.function.function_name
}

output "role_name" {
  description = "Name of the function's role."
  value       = module.function.role_name
}
