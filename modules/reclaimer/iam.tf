# What the reclaimer itself may do; the shared Lambda module adds logging and tracing.
data "aws_iam_policy_document" "this" {
  # Sweep: Scan the items; reclaim: conditional REMOVE of a holder. This table only.
  statement {
    sid       = "ReclaimSemaphoreSlots"
    actions   = ["dynamodb:Scan", "dynamodb:UpdateItem"]
    resources = [var.table_arn]
  }

  dynamic "statement" {
    for_each = var.table_kms_key_arn == null ? [] : [var.table_kms_key_arn]
    content {
      sid       = "UseSemaphoreTableKey"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value]
    }
  }

  # DescribeExecution is authoritative for "is this holder still RUNNING": executions of our
  # state machines only.
  dynamic "statement" {
    for_each = length(local.execution_arn_patterns) > 0 ? [1] : []
    content {
      sid       = "DescribeOwnExecutions"
      actions   = ["states:DescribeExecution"]
      resources = sort(local.execution_arn_patterns)
    }
  }
}
