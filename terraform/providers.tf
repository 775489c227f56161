# One provider configuration serves real AWS and the local emulator (stepqueue/local/emulator.py):
# with var.aws_endpoint_url unset everything below is the provider's default; with it set, every
# service this configuration calls goes to the emulator, with its fixed test credentials.

locals {
  emulated = var.aws_endpoint_url != null && var.aws_endpoint_url != ""
}

provider "aws" {
  region      = var.region
  max_retries = var.max_retries

  # The emulator accepts any credentials; contracts.md fixes them to testing/testing.
  access_key = local.emulated ? "testing" : null
  secret_key = local.emulated ? "testing" : null

  skip_credentials_validation = local.emulated
  skip_metadata_api_check     = local.emulated
  skip_region_validation      = local.emulated
  # The account id is still requested: ARNs built here need it, and the emulator's STS answers.
  skip_requesting_account_id = false
  s3_use_path_style          = local.emulated

  dynamic "endpoints" {
    for_each = local.emulated ? [var.aws_endpoint_url] : []
    content {
      cloudwatch = endpoints.value # DLQ alarms, the dashboard and its alarms (modules/monitoring)
      dynamodb   = endpoints.value # semaphore table and items
      events     = endpoints.value # the gatekeeper's rules and targets
      iam        = endpoints.value # roles and policies
      kms        = endpoints.value # only with var.kms_key_arn
      lambda     = endpoints.value # workers, gatekeeper, event source mappings
      logs       = endpoints.value # log groups
      sfn        = endpoints.value # state machines
      sns        = endpoints.value # only with var.alarm_sns_topic_arn
      sqs        = endpoints.value # queues and DLQs
      sts        = endpoints.value # caller identity (account id in ARNs)
    }
  }

  default_tags {
    tags = var.tags
  }
}
