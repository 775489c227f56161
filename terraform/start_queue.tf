# The start queue (modules/start_queue, docs/design.md §11): `stepqueue submit` sends one
# message per execution, and the starter Lambda starts them at a bounded rate with the
# message's execution name, so a burst is absorbed rather than refused and never started twice.
# One per deployment, for every workflow; on unless start_queue_enabled = false.

module "start_queue" {
  source = "../modules/start_queue"
  count  = var.start_queue_enabled && length(var.workflows) > 0 ? 1 : 0

  queue_name    = "${local.prefix}stepqueue-start"
  function_name = "${local.prefix}stepqueue-starter"
  function      = local.function_settings

  # Static ARNs: the starter need not wait for the state machines.
  state_machine_arns = local.state_machine_arn
  starts_per_second  = var.start_queue_starts_per_second
  max_concurrency    = var.start_queue_max_concurrency

  event_source_mapping_enabled = var.event_source_mapping_enabled

  kms_key_arn         = var.kms_key_arn
  alarm_sns_topic_arn = var.alarm_sns_topic_arn
}
