provider "aws" {
  region = var.region
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

module "start_queue" {
  source = "../.."

  queue_name    = "stepqueue-example-start"
  function_name = "stepqueue-example-starter"
  function = {
    zip_path         = var.lambda_zip_path
    source_code_hash = filebase64sha256(var.lambda_zip_path)
    timeout_seconds  = 60
  }

  # The workflows it may start, by the name messages give (the state machines need not exist).
  state_machine_arns = {
    for name in ["orders", "media"] :
    name => "arn:${data.aws_partition.current.partition}:states:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:stateMachine:${name}"
  }

  # 100 starts a second at most, 5 starters at 20 each: under the smallest regions' refill
  # of 150 StartExecution calls a second, with room for other callers.
  starts_per_second = 100
  max_concurrency   = 5

  tags = { Example = "start_queue" }
}
