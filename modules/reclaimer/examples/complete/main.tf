provider "aws" {
  region = var.region
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

module "semaphore" {
  source = "../../../semaphore"

  name       = "stepqueue-example-reclaimer-semaphores"
  semaphores = { orders = { limit = 10 } }
}

module "reclaimer" {
  source = "../.."

  function_name    = "stepqueue-example-reclaimer"
  zip_path         = var.lambda_zip_path
  source_code_hash = filebase64sha256(var.lambda_zip_path)

  table_name = module.semaphore.table_name
  table_arn  = module.semaphore.table_arn

  # The state machines whose executions hold slots (they need not exist yet).
  state_machine_arns = [
    "arn:${data.aws_partition.current.partition}:states:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:stateMachine:orders",
  ]
  sweep_schedule_expression = "rate(5 minutes)"

  tags = { Example = "reclaimer" }
}
