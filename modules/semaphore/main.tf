# The semaphore table: one item per semaphore, {"id": name, "holders": {execution ARN: start}}.
# The count is size(holders), never stored (docs/contracts.md), so the table only needs its key.

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

# One item per semaphore, created empty. Afterwards the item belongs to the workflows and the
# reclaimer (holders change all the time), so Terraform never rewrites it.
resource "aws_dynamodb_table_item" "semaphore" {
  for_each = var.semaphores

  table_name = aws_dynamodb_table.this.name
  hash_key   = aws_dynamodb_table.this.hash_key

  item = jsonencode({
    id      = { S = each.key }
    holders = { M = {} }
  })

  lifecycle {
    ignore_changes = [item]
  }
}
