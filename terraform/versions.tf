terraform {
  # 1.9: a variable validation may read other variables (workflow names against the prefix).
  required_version = ">= 1.9"

  # State is local unless a backend config file is given (stepqueue.deploy.backend then
  # overrides this block). Declared so `stepqueue` can keep each deployment's state in its own
  # directory through `init -backend-config=path=...` instead of the deprecated `-state` flag.
  backend "local" {}

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }
}
