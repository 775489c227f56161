provider "aws" {
  region = var.region
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

module "watchdog" {
  source = "../.."

  function_name = "stepqueue-example-watchdog"
  function = {
    zip_path         = var.lambda_zip_path
    source_code_hash = filebase64sha256(var.lambda_zip_path)
    timeout_seconds  = 30
  }

  # The state machines to watch (they need not exist yet).
  state_machine_arns = [
    for name in ["orders", "media"] :
    "arn:${data.aws_partition.current.partition}:states:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:stateMachine:${name}"
  ]
  schedule_expression = "rate(5 minutes)"

  tags = { Example = "watchdog" }
}
