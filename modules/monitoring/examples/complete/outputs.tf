output "dashboard_name" {
  description = "Name of the dashboard."
  value       = module.monitoring.dashboard_name
}

output "alarm_names" {
  description = "Alarm name by key `<kind>/<subject>`."
  value       = module.monitoring.alarm_names
}

output "alarm_topic_arn" {
  description = "SNS topic the alarms notify (subscribe to it)."
  value       = aws_sns_topic.alarms.arn
}
