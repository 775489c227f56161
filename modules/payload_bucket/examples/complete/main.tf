provider "aws" {
  region = var.region
}

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

module "payload_bucket" {
  source = "../.."

  # Bucket names are global: the account and the region make this one unique.
  bucket_name     = "stepqueue-example-payloads-${data.aws_caller_identity.current.account_id}-${data.aws_region.current.name}"
  expiration_days = 30
  # null: SSE-S3. A key's ARN: SSE-KMS with an S3 bucket key. An existing key, known when
  # planning: a key created in the same plan leaves the encryption unknown until apply.
  kms_key_arn = var.kms_key_arn

  deny_insecure_transport = var.deny_insecure_transport

  tags = { Example = "payload_bucket" }
}
