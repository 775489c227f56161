# The semaphore table (docs/contracts.md). A polling semaphore is one item,
# {"id": name, "holders": {execution ARN: start}}, whose count is size(holders). A waiting-room
# semaphore is a counter item {"id": name, "limit", "held", ...} plus one small item per waiter
# and per holder; the holder items carry `holder_of` = the semaphore, and the sparse `holders`
# index over it lets the gatekeeper's sweep page through one semaphore's holders.

locals {
  waiting_room = anytrue([for s in values(var.semaphores) : s.mode == "waiting_room"])
}

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

  # Only with a waiting-room semaphore: a polling-only table is left exactly as it was.
  dynamic "attribute" {
    for_each = local.waiting_room ? ["holder_of"] : []
    content {
      name = attribute.value
      type = "S"
    }
  }

  dynamic "global_secondary_index" {
    for_each = local.waiting_room ? ["holders"] : []
    content {
      name            = global_secondary_index.value
      hash_key        = "holder_of"
      range_key       = "id"
      projection_type = "ALL"
    }
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

# One item per semaphore: an empty holders map (polling) or the counter with the initial limit
# (waiting room). Afterwards the item belongs to the workflows, the reclaimer and the gatekeeper
# (holders change all the time; `stepqueue semaphore set` changes a limit at run time), so
# Terraform never rewrites it: a limit changed in the spec later is not applied by Terraform.
resource "aws_dynamodb_table_item" "semaphore" {
  for_each = var.semaphores

  table_name = aws_dynamodb_table.this.name
  hash_key   = aws_dynamodb_table.this.hash_key

  item = each.value.mode == "waiting_room" ? jsonencode({
    id    = { S = each.key }
    limit = { N = tostring(each.value.limit) }
    }) : jsonencode({
    id      = { S = each.key }
    holders = { M = {} }
  })

  lifecycle {
    ignore_changes = [item]
  }
}
