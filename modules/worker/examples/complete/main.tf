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

  zip_path         = var.lambda_zip_path
  source_code_hash = filebase64sha256(var.lambda_zip_path)

  timeout_seconds = 60
  memory_mb       = 256

  queue_arn                    = module.queue.queue_arn
  batch_size                   = 2
  batching_window_seconds      = 10
  max_concurrency              = 5
  event_source_mapping_enabled = true

  tags = { Example = "worker" }
}
