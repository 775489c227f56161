output "dashboard_name" {
  description = "Name of the dashboard."
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}

output "dashboard_arn" {
  description = "ARN of the dashboard."
  value       = aws_cloudwatch_dashboard.this.dashboard_arn
}

output "alarm_names" {
  description = "Alarm name by key `<kind>/<subject>` (e.g. `queue_age/orders/enrich`, `leaked_slots/orders`)."
  value       = { for key, a in aws_cloudwatch_metric_alarm.this : key => a.alarm_name }
}

output "alarm_arns" {
  description = "Alarm ARN by the same keys as `alarm_names`."
  value       = { for key, a in aws_cloudwatch_metric_alarm.this : key => a.arn }
}

output "metrics_namespace" {
  description = "CloudWatch namespace of the metrics the gatekeeper, the watchdog and the starter emit."
  value       = local.namespace
}
