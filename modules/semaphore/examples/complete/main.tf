provider "aws" {
  region = var.region
}

module "semaphore" {
  source = "../.."

  name = "stepqueue-example-semaphores"
  semaphores = {
    orders    = { limit = 10 }
    glue-jobs = { limit = 3 }
  }

  tags = { Example = "semaphore" }
}
