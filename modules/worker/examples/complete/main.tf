provider "aws" {
  region = var.region
}

module "queue" {
  source = "../../../queue"

  name                       = "stepqueue-example-enrich"
  visibility_timeout_seconds = 400
  max_receive_count          = 5
}

module "worker" {
  source = "../.."

  function_name = "stepqueue-example-enrich"
  handler       = "examples.orders.enrich"

  function = {
    zip_path         = var.lambda_zip_path
    source_code_hash = filebase64sha256(var.lambda_zip_path)
    timeout_seconds  = 60
    memory_mb        = 256
    architecture     = "arm64"
    tracing_mode     = "Active"
    environment      = { GREETING = "hello" }

    # What this worker alone may do besides consuming its queue.
    policy_statements = [{
      sid       = "ReadOrders"
      actions   = ["dynamodb:GetItem"]
      resources = ["arn:aws:dynamodb:${var.region}:123456789012:table/orders"]
    }]

    tags = { Example = "worker" }
  }

  # Resolved by the runtime at cold start; only the ARN is in the configuration.
  secrets = { API_KEY = "arn:aws:ssm:${var.region}:123456789012:parameter/stepqueue-example/api-key" }

  queue_arn                    = module.queue.queue_arn
  batch_size                   = 2
  batching_window_seconds      = 10
  max_concurrency              = 5
  event_source_mapping_enabled = true
}
