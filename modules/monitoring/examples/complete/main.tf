provider "aws" {
  region = var.region
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  prefix       = "stepqueue-example-monitoring"
  machine_arn  = "arn:${data.aws_partition.current.partition}:states:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:stateMachine:"
  orders_name  = "${local.prefix}-orders"
  reports_name = "${local.prefix}-reports"
  gatekeeper   = "${local.prefix}-gatekeeper"
  watchdog     = "${local.prefix}-watchdog"
  enrich_queue = "${local.prefix}-orders-enrich"
  render_queue = "${local.prefix}-reports-render"
  start_queue  = "${local.prefix}-start"
}

resource "aws_sns_topic" "alarms" {
  name              = "${local.prefix}-alarms"
  kms_master_key_id = "alias/aws/sns"
}

# The deployment it watches need not exist yet: the module takes names and ARNs, and its
# alarms stay in INSUFFICIENT_DATA until the metrics arrive. Here, two workflows of one worker
# each: orders and reports wait for their semaphores (`orders`, `reports`) in the gatekeeper's
# waiting room; the watchdog (modules/watchdog)
# measures both workflows' RUNNING executions; the start queue (modules/start_queue) starts both
# at 100 a second at most.
module "monitoring" {
  source = "../.."

  name = local.prefix

  workflows = {
    orders = {
      state_machine_name    = local.orders_name
      state_machine_arn     = "${local.machine_arn}${local.orders_name}"
      running_bound_seconds = 3600
    }
    reports = {
      state_machine_name    = local.reports_name
      state_machine_arn     = "${local.machine_arn}${local.reports_name}"
      running_bound_seconds = 7200
    }
  }

  workers = {
    "orders/enrich" = {
      workflow             = "orders"
      worker               = "enrich"
      queue_name           = local.enrich_queue
      dlq_name             = "${local.enrich_queue}-dlq"
      function_name        = local.enrich_queue
      max_concurrency      = 5
      task_timeout_seconds = 300
      # What this worker alone may do, listed on the dashboard.
      permissions = {
        statements = [{
          sid       = "ReadImages"
          actions   = ["s3:GetObject"]
          resources = ["arn:aws:s3:::orders-images/*"]
        }]
        secret_arns = ["arn:aws:ssm:us-east-1:123456789012:parameter/orders/api-key"]
      }
    }
    "reports/render" = {
      workflow             = "reports"
      worker               = "render"
      queue_name           = local.render_queue
      dlq_name             = "${local.render_queue}-dlq"
      function_name        = local.render_queue
      max_concurrency      = 2
      task_timeout_seconds = 1800
    }
  }

  semaphores = {
    orders  = { limit = 10 }
    reports = { limit = 2 }
  }
  gatekeeper_function_name = local.gatekeeper
  watchdog_function_name   = local.watchdog

  start_queue = {
    queue_name        = local.start_queue
    dlq_name          = "${local.start_queue}-dlq"
    function_name     = "${local.prefix}-starter"
    starts_per_second = 100
  }

  alarm_sns_topic_arn              = aws_sns_topic.alarms.arn
  queue_age_share                  = 0.5
  semaphore_wait_threshold_seconds = 900
  alarm_period_seconds             = 300
  sweep_alarm_period_seconds       = 900

  tags = { Example = "monitoring" }
}
