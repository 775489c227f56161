provider "aws" {
  region = var.region
}

module "semaphore" {
  source = "../.."

  name = "stepqueue-example-semaphores"
  semaphores = {
    # A counter item each, with its initial limit; the table has the `holders` index.
    orders    = { limit = 10 }
    glue-jobs = { limit = 3 }
  }

  tags = { Example = "semaphore" }
}
