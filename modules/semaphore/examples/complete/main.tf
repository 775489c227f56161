provider "aws" {
  region = var.region
}

module "semaphore" {
  source = "../.."

  name = "stepqueue-example-semaphores"
  semaphores = {
    # The counter item with its initial limit, and the `holders` index.
    orders = { limit = 10, mode = "waiting_room" }
    # The first version's holders map, polled by the state machines.
    glue-jobs = { limit = 3, mode = "polling" }
  }

  tags = { Example = "semaphore" }
}
