provider "aws" {
  region = var.region
}

data "aws_iam_policy_document" "own" {
  statement {
    sid       = "ReadOneParameter"
    actions   = ["ssm:GetParameter"]
    resources = ["arn:aws:ssm:${var.region}:123456789012:parameter/stepqueue-example"]
  }
}

module "function" {
  source = "../.."

  function_name    = "stepqueue-example-function"
  description      = "stepqueue example function"
  role_description = "stepqueue example function"
  lambda_handler   = "stepqueue_runtime.entry.handler"

  policy_name = "stepqueue-example"
  policy_json = data.aws_iam_policy_document.own.json

  environment_variables = { STEPQUEUE_HANDLER = "examples.orders.enrich" }

  settings = {
    zip_path         = var.lambda_zip_path
    source_code_hash = filebase64sha256(var.lambda_zip_path)

    timeout_seconds      = 30
    tracing_mode         = "Active"
    memory_mb            = 128
    ephemeral_storage_mb = 1024
    environment          = { GREETING = "hello" }

    # An extra permission of this function alone, in its own inline policy.
    policy_statements = [{
      sid       = "ReadOneMoreParameter"
      actions   = ["ssm:GetParameter"]
      resources = ["arn:aws:ssm:${var.region}:123456789012:parameter/stepqueue-example-extra"]
    }]

    tags = { Example = "lambda_function" }
  }
}
