provider "aws" {
  region = var.region
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  orders_machine = "arn:${data.aws_partition.current.partition}:states:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:stateMachine:orders"
}

module "semaphore" {
  source = "../../../semaphore"

  name       = "stepqueue-example-gatekeeper-semaphores"
  semaphores = { orders = { limit = 10, mode = "waiting_room" } }
}

module "gatekeeper" {
  source = "../.."

  name = "stepqueue-example-gatekeeper"
  function = {
    zip_path         = var.lambda_zip_path
    source_code_hash = filebase64sha256(var.lambda_zip_path)
    memory_mb        = 512
  }

  table_name = module.semaphore.table_name
  table_arn  = module.semaphore.table_arn

  # The state machines whose executions wait for or hold each semaphore (they need not exist
  # yet); their definitions send to module.gatekeeper.queue_url.
  semaphores = {
    orders = { limit = 10, state_machine_arns = [local.orders_machine] }
  }

  tags = { Example = "gatekeeper" }
}
