variable "environment" {
  description = "Environment name (staging, production)."
  type        = string
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
