# The semaphore table (docs/contracts.md). A semaphore (each waits in the gatekeeper's waiting
# room) is a counter item {"id": name, "limit", "held", ...} plus one small item per waiter
# and per holder; the holder items carry `holder_of` = the semaphore, and the sparse `holders`
# index over it lets the gatekeeper's sweep page through one semaphore's holders.

resource "aws_dynamodb_table" "this" {
  #checkov:skip=CKV_AWS_119: a customer KMS key is optional (var.kms_key_arn); without it the table is encrypted with the AWS-managed key aws/dynamodb
  #checkov:skip=CKV2_AWS_16: on-demand (PAY_PER_REQUEST) capacity, there is no provisioned capacity to auto-scale
  name         = var.name
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "id"

  attribute {
    name = "id"
    type = "S"
  }

  attribute {
    name = "holder_of"
    type = "S"
  }

  global_secondary_index {
    name            = "holders"
    hash_key        = "holder_of"
    range_key       = "id"
    projection_type = "ALL"
  }

  # A released slot leaves a small record (the acquires it granted) so a late duplicate is
  # recognised; it expires when no execution could still send one (stepqueue_gatekeeper/store.py).
  ttl {
    attribute_name = "expires"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = var.point_in_time_recovery_enabled
  }

  # Always encrypted: with the customer key when given, else the AWS-managed key aws/dynamodb.
  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  deletion_protection_enabled = var.deletion_protection_enabled

  tags = var.tags
}

# One item per semaphore: the counter with the initial limit. Afterwards the item belongs to the
# gatekeeper (holders change all the time; `stepqueue semaphore set` changes a limit at run time), so
# Terraform never rewrites it: a limit changed in the spec later is not applied by Terraform.
resource "aws_dynamodb_table_item" "semaphore" {
  for_each = var.semaphores

  table_name = aws_dynamodb_table.this.name
  hash_key   = aws_dynamodb_table.this.hash_key

  item = jsonencode({
    id    = { S = each.key }
    limit = { N = tostring(each.value.limit) }
  })

  lifecycle {
    ignore_changes = [item]
  }
}
