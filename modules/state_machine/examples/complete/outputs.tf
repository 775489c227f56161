output "state_machine_arn" {
  description = "ARN of the state machine."
  value       = module.state_machine.state_machine_arn
}
