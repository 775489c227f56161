"""A small Terraform root (a queue with its DLQ, a role, a state machine) that needs every
shim the provider needs, and applies in seconds on the emulator."""

SHIM_ROOT = """
terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = ">= 5.0" }
  }
}
variable "aws_endpoint_url" { type = string }
variable "max_retries" { type = number }
variable "name" { type = string }
provider "aws" {
  region                      = "us-east-1"
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  max_retries                 = var.max_retries
  endpoints {
    sqs = var.aws_endpoint_url
    sfn = var.aws_endpoint_url
    iam = var.aws_endpoint_url
    sts = var.aws_endpoint_url
  }
}
resource "aws_sqs_queue" "dlq" { name = "${var.name}-dlq" }
resource "aws_sqs_queue" "this" {
  name           = var.name
  redrive_policy = jsonencode({ deadLetterTargetArn = aws_sqs_queue.dlq.arn, maxReceiveCount = 3 })
}
resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  queue_url = aws_sqs_queue.dlq.id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue", sourceQueueArns = [aws_sqs_queue.this.arn]
  })
}
resource "aws_iam_role" "sfn" {
  name = "${var.name}-sfn"
  assume_role_policy = jsonencode({ Version = "2012-10-17", Statement = [{
    Effect = "Allow", Action = "sts:AssumeRole", Principal = { Service = "states.amazonaws.com" }
  }] })
}
resource "aws_sfn_state_machine" "this" {
  name       = var.name
  role_arn   = aws_iam_role.sfn.arn
  definition = jsonencode({ StartAt = "A", States = { A = { Type = "Pass", End = true } } })
}
output "queue_url" { value = aws_sqs_queue.this.id }
"""
