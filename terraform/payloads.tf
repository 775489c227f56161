# The claim check (docs/design.md §5, docs/contracts.md "Large payloads"): with
# var.payload_bucket_enabled, one bucket per deployment holds task outputs over
# var.payload_threshold_bytes, and every worker may store under `<state machine>/<worker>/`
# and read under `<state machine>/` only. Off by default: then no bucket, no policy, no
# environment change, and an output over 256 KiB fails its task with Stepqueue.OutputTooLarge.

module "payload_bucket" {
  source = "../modules/payload_bucket"
  count  = var.payload_bucket_enabled ? 1 : 0

  bucket_name     = local.payload_bucket_name
  expiration_days = var.payload_expiration_days
  kms_key_arn     = var.kms_key_arn
  force_destroy   = var.payload_bucket_force_destroy
  # The local emulator speaks plain HTTP (and enforces bucket policies): TLS only on AWS.
  deny_insecure_transport = var.aws_endpoint_url == null || var.aws_endpoint_url == ""
}

locals {
  # Bucket names are global: the account and the region make it this deployment's own.
  payload_bucket_name = coalesce(var.payload_bucket_name, "${local.prefix}stepqueue-payloads-${data.aws_caller_identity.current.account_id}-${data.aws_region.current.name}")

  # What each worker gets (modules/worker var.payload_store), null without the bucket.
  payload_store = {
    for key, w in local.workers : key => var.payload_bucket_enabled ? {
      bucket_name     = module.payload_bucket[0].bucket_name
      bucket_arn      = module.payload_bucket[0].bucket_arn
      read_prefix     = "${local.prefix}${w.workflow}/"
      write_prefix    = "${local.prefix}${w.workflow}/${w.worker}/"
      threshold_bytes = var.payload_threshold_bytes
      max_bytes       = var.payload_max_bytes
      kms_key_arn     = var.kms_key_arn
    } : null
  }
}
