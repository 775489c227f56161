output "function_name" {
  description = "Name of the reclaimer function."
  value       = module.reclaimer.function_name
}

output "status_change_rule_name" {
  description = "Name of the status-change rule."
  value       = module.reclaimer.status_change_rule_name
}
