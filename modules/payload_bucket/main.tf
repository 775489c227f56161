# The payload bucket of the claim check: task outputs over the workers' threshold are stored
# here and travel between workers as references (docs/contracts.md, "Large payloads").
#
# Private (public access blocked, ACLs disabled, TLS only unless told), encrypted at rest (SSE-S3 by
# default, the customer key when var.kms_key_arn is set) and self-cleaning: every object expires
# after var.expiration_days. Objects are written once under a key that names their content, so
# versioning would only keep copies of what expired.

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_18: payloads are transient task data read back by the workers; reads and writes are CloudTrail S3 data events when the account records them, and an access-log bucket per deployment would hold more than the payloads
  #checkov:skip=CKV_AWS_144: payloads live for days and belong to executions in this region; a copy in another region is of no use to them
  #checkov:skip=CKV2_AWS_62: nothing reacts to a stored payload: the next worker reads it through the reference in its input
  #checkov:skip=CKV_AWS_21: objects are written once under a key that is the hash of their content and expire; versions would only keep copies of expired payloads
  #checkov:skip=CKV_AWS_145: SSE-S3 unless var.kms_key_arn is given, then SSE-KMS (aws_s3_bucket_server_side_encryption_configuration below); a customer key is optional here as everywhere in the project, and costs a KMS quota on the workers' path
  #checkov:skip=CKV2_AWS_61: the lifecycle rule is aws_s3_bucket_lifecycle_configuration.this below; a plan scan does not connect it to a bucket inside a module (the directory scan does)
  bucket        = var.bucket_name
  force_destroy = var.force_destroy

  tags = var.tags
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket = aws_s3_bucket.this.bucket

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

# ACLs off: every object belongs to the bucket owner, access is by IAM only.
resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = aws_s3_bucket.this.bucket

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.bucket

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.kms_key_arn == null ? "AES256" : "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    # With a customer key, one data key per bucket instead of a KMS call per object.
    bucket_key_enabled = var.kms_key_arn != null
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  #checkov:skip=CKV_AWS_300: the rule below aborts incomplete uploads for the whole bucket (an empty filter); in a plan the provider writes that filter as prefix "" and the check reads it as a narrower one
  bucket = aws_s3_bucket.this.bucket

  rule {
    id     = "expire-payloads"
    status = "Enabled"

    filter {}

    expiration {
      days = var.expiration_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

data "aws_iam_policy_document" "tls_only" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.this.arn,
      "${aws_s3_bucket.this.arn}/*",
    ]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  count = var.deny_insecure_transport ? 1 : 0

  bucket = aws_s3_bucket.this.bucket
  policy = data.aws_iam_policy_document.tls_only.json

  # A policy written before the public access block exists may be refused as public.
  depends_on = [aws_s3_bucket_public_access_block.this]
}
