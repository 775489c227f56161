# What the worker itself may do; the shared Lambda module adds logging and tracing.
data "aws_iam_policy_document" "this" {
  # What the event source mapping needs to poll the queue (it runs with the function's role),
  # plus ChangeMessageVisibility (which also covers ChangeMessageVisibilityBatch), used by the
  # runtime itself: a record failed for a transient reason comes back before its state's
  # HeartbeatSeconds runs out instead of after the whole visibility timeout, and records not
  # started when the Lambda deadline is near go back at once. This queue only.
  statement {
    sid = "ConsumeOwnQueue"
    actions = [
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:GetQueueAttributes",
      "sqs:ChangeMessageVisibility",
    ]
    resources = [var.queue_arn]
  }

  # Reading messages of a queue encrypted with a customer key needs kms:Decrypt on that key.
  dynamic "statement" {
    for_each = var.queue_kms_key_arn == null ? [] : [var.queue_kms_key_arn]
    content {
      sid       = "DecryptQueueMessages"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]
    }
  }

  # The claim check: store its own outputs under its own prefix, read the payloads of its
  # workflow's workers. Objects only: no listing, no delete (the lifecycle rule expires them).
  dynamic "statement" {
    for_each = var.payload_store == null ? [] : [var.payload_store]
    content {
      sid       = "StoreOwnPayloads"
      actions   = ["s3:PutObject"]
      resources = ["${statement.value.bucket_arn}/${statement.value.write_prefix}*"]
    }
  }

  dynamic "statement" {
    for_each = var.payload_store == null ? [] : [var.payload_store]
    content {
      sid       = "ReadWorkflowPayloads"
      actions   = ["s3:GetObject"]
      resources = ["${statement.value.bucket_arn}/${statement.value.read_prefix}*"]
    }
  }

  # SSE-KMS with a customer key: a write needs a data key, a read its decryption.
  dynamic "statement" {
    for_each = try(var.payload_store.kms_key_arn, null) == null ? [] : [var.payload_store.kms_key_arn]
    content {
      sid       = "PayloadKey"
      actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
      resources = [statement.value]
    }
  }

  # The secrets named by ARN in STEPQUEUE_SECRETS, those and no other.
  dynamic "statement" {
    for_each = length(local.ssm_parameter_arns) == 0 ? [] : [local.ssm_parameter_arns]
    content {
      sid       = "ReadOwnParameters"
      actions   = ["ssm:GetParameter"]
      resources = statement.value
    }
  }

  dynamic "statement" {
    for_each = length(local.secret_arns) == 0 ? [] : [local.secret_arns]
    content {
      sid       = "ReadOwnSecrets"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = statement.value
    }
  }

  # A SecureString parameter or a secret encrypted with the deployment's customer key.
  dynamic "statement" {
    for_each = length(var.secrets) == 0 || var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      sid       = "DecryptOwnSecrets"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]
    }
  }

  # The task-token APIs have no resource type in the Service Authorization Reference (the
  # token, not an ARN, identifies the task), so AWS only accepts "*" here.
  statement {
    sid = "ReportTaskResults"
    actions = [
      "states:SendTaskSuccess",
      "states:SendTaskFailure",
      "states:SendTaskHeartbeat",
    ]
    resources = ["*"]
  }
}
