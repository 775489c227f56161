provider "aws" {
  region = var.region
}

module "queue" {
  source = "../../../queue"

  name = "stepqueue-example-task"
}

# Stands in for the gatekeeper's waiting room (modules/gatekeeper): a FIFO queue.
resource "aws_sqs_queue" "waiting_room" {
  name                        = "stepqueue-example-sfn-waiting-room.fifo"
  fifo_queue                  = true
  content_based_deduplication = true
  sqs_managed_sse_enabled     = true
}

module "state_machine" {
  source = "../.."

  name = "stepqueue-example"

  # A minimal definition in the shape the generator emits: acquire (parked in the waiting
  # room until the gatekeeper answers), a queued task, release (a message to the same group).
  definition = jsonencode({
    StartAt = "Acquire"
    States = {
      Acquire = {
        Type     = "Task"
        Resource = "arn:aws:states:::sqs:sendMessage.waitForTaskToken"
        Parameters = {
          QueueUrl                   = aws_sqs_queue.waiting_room.url
          MessageGroupId             = "example"
          "MessageDeduplicationId.$" = "$$.Execution.Name"
          MessageBody                = { op = "acquire", semaphore = "example", "execution.$" = "$$.Execution.Id", "token.$" = "$$.Task.Token" }
        }
        TimeoutSeconds = 3600
        ResultPath     = null
        Next           = "Task"
      }
      Task = {
        Type     = "Task"
        Resource = "arn:aws:states:::sqs:sendMessage.waitForTaskToken"
        Parameters = {
          QueueUrl    = module.queue.queue_url
          MessageBody = { "input.$" = "$", "taskToken.$" = "$$.Task.Token" }
        }
        TimeoutSeconds = 300
        Next           = "Release"
      }
      Release = {
        Type     = "Task"
        Resource = "arn:aws:states:::sqs:sendMessage"
        Parameters = {
          QueueUrl                   = aws_sqs_queue.waiting_room.url
          MessageGroupId             = "example"
          "MessageDeduplicationId.$" = "$$.Execution.Name"
          MessageBody                = { op = "release", semaphore = "example", "execution.$" = "$$.Execution.Id" }
        }
        ResultPath = null
        End        = true
      }
    }
  })

  queue_arns = [module.queue.queue_arn, aws_sqs_queue.waiting_room.arn]

  tags = { Example = "state_machine" }
}
