"""Deploying: build the generated inputs and the Lambda zip, then plan, apply and destroy with
Terraform, safely (saved plans, staleness checks, confirmation, stages, remote backends)."""
