output "function_name" {
  description = "Name of the watchdog function."
  value       = module.watchdog.function_name
}

output "schedule_rule_name" {
  description = "Name of the schedule rule."
  value       = module.watchdog.schedule_rule_name
}
