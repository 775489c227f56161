variable "name" {
  description = "Name of the work queue (the DLQ is named `<name>-dlq` unless `dlq_name` is set)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,76}$", var.name))
    error_message = "SQS queue names are 1-80 characters of [A-Za-z0-9_-]; 76 leaves room for the `-dlq` suffix."
  }
}

variable "fifo" {
  description = "Make both queues FIFO: their names get the `.fifo` suffix SQS requires (the DLQ's name, `-dlq.fifo` included, must stay within SQS's 80 characters). Senders then pass a message group and a deduplication id."
  type        = bool
  default     = false
}

variable "dlq_alarm_description" {
  description = "What the DLQ alarm says when it fires (what a message there means for its senders). null: a worker failed on it max_receive_count times."
  type        = string
  default     = null

  validation {
    condition     = var.dlq_alarm_description == null || length(coalesce(var.dlq_alarm_description, "x")) <= 1024
    error_message = "dlq_alarm_description is at most 1024 characters (CloudWatch's limit)."
  }
}

variable "dlq_name" {
  description = "Name of the dead-letter queue. Defaults to `<name>-dlq`."
  type        = string
  default     = null

  validation {
    condition     = var.dlq_name == null || can(regex("^[A-Za-z0-9_-]{1,80}$", coalesce(var.dlq_name, "x")))
    error_message = "SQS queue names are 1-80 characters of [A-Za-z0-9_-]."
  }
}

variable "visibility_timeout_seconds" {
  description = "Visibility timeout of the work queue. AWS guidance for Lambda consumers: at least 6 x function timeout + batching window."
  type        = number
  default     = 30

  validation {
    condition     = var.visibility_timeout_seconds >= 0 && var.visibility_timeout_seconds <= 43200 && floor(var.visibility_timeout_seconds) == var.visibility_timeout_seconds
    error_message = "visibility_timeout_seconds must be a whole number from 0 to 43200 (12 hours)."
  }
}

variable "message_retention_seconds" {
  description = "How long the work queue keeps a message."
  type        = number
  default     = 345600

  validation {
    condition     = var.message_retention_seconds >= 60 && var.message_retention_seconds <= 1209600 && floor(var.message_retention_seconds) == var.message_retention_seconds
    error_message = "message_retention_seconds must be a whole number from 60 to 1209600 (14 days)."
  }
}

variable "dlq_message_retention_seconds" {
  description = "How long the DLQ keeps a message (default: the SQS maximum, 14 days)."
  type        = number
  default     = 1209600

  validation {
    condition     = var.dlq_message_retention_seconds >= 60 && var.dlq_message_retention_seconds <= 1209600 && floor(var.dlq_message_retention_seconds) == var.dlq_message_retention_seconds
    error_message = "dlq_message_retention_seconds must be a whole number from 60 to 1209600 (14 days)."
  }
}

variable "delay_seconds" {
  description = "Delivery delay of every message of the work queue."
  type        = number
  default     = 0

  validation {
    condition     = var.delay_seconds >= 0 && var.delay_seconds <= 900 && floor(var.delay_seconds) == var.delay_seconds
    error_message = "delay_seconds must be a whole number from 0 to 900."
  }
}

variable "receive_wait_time_seconds" {
  description = "Long-polling wait of ReceiveMessage calls that do not set their own."
  type        = number
  default     = 0

  validation {
    condition     = var.receive_wait_time_seconds >= 0 && var.receive_wait_time_seconds <= 20 && floor(var.receive_wait_time_seconds) == var.receive_wait_time_seconds
    error_message = "receive_wait_time_seconds must be a whole number from 0 to 20."
  }
}

variable "max_receive_count" {
  description = "Receives of a message before SQS moves it to the DLQ."
  type        = number
  default     = 5

  validation {
    condition     = var.max_receive_count >= 1 && var.max_receive_count <= 1000 && floor(var.max_receive_count) == var.max_receive_count
    error_message = "max_receive_count must be a whole number from 1 to 1000."
  }
}

variable "kms_key_arn" {
  description = "ARN of a customer-managed KMS key for SSE. null: SQS-managed SSE (SSE-SQS)."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", coalesce(var.kms_key_arn, "x")))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:...), or null."
  }
}

variable "kms_data_key_reuse_period_seconds" {
  description = "How long SQS reuses a data key before calling KMS again (only with a customer key)."
  type        = number
  default     = 300

  validation {
    condition     = var.kms_data_key_reuse_period_seconds >= 60 && var.kms_data_key_reuse_period_seconds <= 86400
    error_message = "kms_data_key_reuse_period_seconds must be from 60 to 86400."
  }
}

variable "create_dlq_alarm" {
  description = "Create a CloudWatch alarm on the DLQ depth."
  type        = bool
  default     = true
}

variable "dlq_alarm_threshold" {
  description = "The alarm fires when more than this many messages are visible in the DLQ."
  type        = number
  default     = 0

  validation {
    condition     = var.dlq_alarm_threshold >= 0
    error_message = "dlq_alarm_threshold must be >= 0."
  }
}

variable "dlq_alarm_period_seconds" {
  description = "Period of the DLQ alarm (SQS metrics are published every 60 seconds or more)."
  type        = number
  default     = 300

  validation {
    condition     = var.dlq_alarm_period_seconds >= 60 && var.dlq_alarm_period_seconds % 60 == 0
    error_message = "dlq_alarm_period_seconds must be a multiple of 60."
  }
}

variable "alarm_sns_topic_arn" {
  description = "SNS topic notified when the DLQ alarm changes state. null: no notification."
  type        = string
  default     = null

  validation {
    condition     = var.alarm_sns_topic_arn == null || can(regex("^arn:aws[a-z-]*:sns:", coalesce(var.alarm_sns_topic_arn, "x")))
    error_message = "alarm_sns_topic_arn must be an SNS topic ARN, or null."
  }
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
