provider "aws" {
  region = var.region
}

resource "aws_sns_topic" "alarms" {
  name              = "stepqueue-example-alarms"
  kms_master_key_id = "alias/aws/sns"
}

module "queue" {
  source = "../.."

  name                       = "stepqueue-example-work"
  visibility_timeout_seconds = 390
  message_retention_seconds  = 345600
  delay_seconds              = 0
  max_receive_count          = 3

  alarm_sns_topic_arn = aws_sns_topic.alarms.arn

  tags = { Example = "queue" }
}
