# What the gatekeeper itself may do; the shared Lambda module adds logging and tracing.
data "aws_iam_policy_document" "this" {
  # What the event source mappings need to poll the control queue and the arrivals queues (they
  # run with the function's role). Its own queues only.
  statement {
    sid = "ConsumeOwnQueues"
    actions = [
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:GetQueueAttributes",
      "sqs:ChangeMessageVisibility",
    ]
    resources = concat([aws_sqs_queue.this.arn], [for name in sort(keys(module.arrivals)) : module.arrivals[name].queue_arn])
  }

  # A long sweep or a long line carries on in a follow-on message of the same group, and a
  # recorded arrival wakes its semaphore's group: both into the control queue only.
  statement {
    sid       = "ContinueInControlQueue"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.this.arn]
  }

  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      sid       = "UseQueueKey"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value]
    }
  }

  # The counter, waiter and holder items of the waiting-room semaphores only (their keys are
  # NAME, NAME#w#..., NAME#h#...), read together in one BatchGetItem and written in one
  # TransactWriteItems (Put and Delete). Items of polling semaphores in the same table are out
  # of reach.
  statement {
    sid       = "SemaphoreItems"
    actions   = ["dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"]
    resources = [var.table_arn]

    condition {
      test     = "ForAllValues:StringLike"
      variable = "dynamodb:LeadingKeys"
      values   = sort(flatten([for name in keys(var.semaphores) : [name, "${name}#*"]]))
    }
  }

  # The sweep pages through one semaphore's holders with the sparse `holders` index.
  statement {
    sid       = "HoldersIndex"
    actions   = ["dynamodb:Query"]
    resources = ["${var.table_arn}/index/holders"]
  }

  dynamic "statement" {
    for_each = var.table_kms_key_arn == null ? [] : [var.table_kms_key_arn]
    content {
      sid       = "UseSemaphoreTableKey"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value]
    }
  }

  # Granting completes the waiter's task; SendTaskFailure fails an acquire the gatekeeper
  # cannot place or has to drop (a bad priority, a missing key, an unreadable body, a call AWS
  # refused for good), so its execution fails at once instead of after max_wait_seconds. The
  # task-token APIs have no resource type (the token, not an ARN, names the task), so AWS only
  # accepts "*" here.
  statement {
    sid       = "GrantSlots"
    actions   = ["states:SendTaskFailure", "states:SendTaskSuccess"]
    resources = ["*"]
  }

  # DescribeExecution decides every reclaim; StopExecution refuses a redriven execution whose
  # slot was reclaimed. Executions of this deployment's state machines only.
  dynamic "statement" {
    for_each = length(local.execution_prefixes) > 0 ? [1] : []
    content {
      sid       = "OwnExecutions"
      actions   = ["states:DescribeExecution", "states:StopExecution"]
      resources = sort([for prefix in local.execution_prefixes : "${prefix}*"])
    }
  }
}
