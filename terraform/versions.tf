terraform {
  # 1.9: a variable validation may read other variables (workflow names against the prefix).
  required_version = ">= 1.9"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }
}
