variable "region" {
  description = "AWS region."
  type        = string
  default     = "us-east-1"
}

variable "lambda_zip_path" {
  description = "The stepqueue Lambda zip (`make lambda` writes build/lambda/stepqueue.zip)."
  type        = string
  default     = "../../../../build/lambda/stepqueue.zip"
}
