provider "aws" {
  region = var.region
}

module "queue" {
  source = "../../../queue"

  name = "stepqueue-example-task"
}

module "semaphore" {
  source = "../../../semaphore"

  name       = "stepqueue-example-sfn-semaphores"
  semaphores = { example = { limit = 2 } }
}

module "state_machine" {
  source = "../.."

  name = "stepqueue-example"

  # A minimal definition in the shape the generator emits: acquire, a queued task, release.
  definition = jsonencode({
    StartAt = "Acquire"
    States = {
      Acquire = {
        Type     = "Task"
        Resource = "arn:aws:states:::dynamodb:updateItem"
        Parameters = {
          TableName                 = module.semaphore.table_name
          Key                       = { id = { S = "example" } }
          UpdateExpression          = "SET #h.#e = :t"
          ConditionExpression       = "attribute_exists(#h.#e) OR size(#h) < :limit"
          ExpressionAttributeNames  = { "#h" = "holders", "#e.$" = "$$.Execution.Id" }
          ExpressionAttributeValues = { ":t" = { "S.$" = "$$.Execution.StartTime" }, ":limit" = { N = "2" } }
        }
        ResultPath = null
        Next       = "Task"
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
        Resource = "arn:aws:states:::dynamodb:updateItem"
        Parameters = {
          TableName                = module.semaphore.table_name
          Key                      = { id = { S = "example" } }
          UpdateExpression         = "REMOVE #h.#e"
          ExpressionAttributeNames = { "#h" = "holders", "#e.$" = "$$.Execution.Id" }
        }
        ResultPath = null
        End        = true
      }
    }
  })

  queue_arns          = [module.queue.queue_arn]
  semaphore_table_arn = module.semaphore.table_arn
  semaphore_name      = "example"

  tags = { Example = "state_machine" }
}
