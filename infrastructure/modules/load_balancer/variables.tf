variable "environment" {
  description = "Environment name (staging, production)."
  type        = string
}

variable "vpc_id" {
  description = "The VPC."
  type        = string
}

variable "vpc_cidr_block" {
  description = "The VPC's range, where the API tasks are."
  type        = string
}

variable "public_subnet_ids" {
  description = "Subnets of the load balancer."
  type        = list(string)
}

variable "domain_name" {
  description = "Public host name of the API, e.g. auterity.example.com."
  type        = string
}

variable "zone_id" {
  description = "Route 53 hosted zone of domain_name (certificate validation and the alias record)."
  type        = string
}

variable "api_port" {
  description = "Port the API tasks listen on."
  type        = number
  default     = 8000
}

variable "deletion_protection" {
  description = "Refuse to delete the load balancer."
  type        = bool
}

variable "login_rate_limit" {
  description = "Sign-in requests one client address may make in five minutes before WAF blocks it."
  type        = number
  default     = 100
}

variable "kms_key_arn" {
  description = "KMS key for the WAF log group."
  type        = string
}

variable "log_retention_days" {
  description = "How long WAF and access logs are kept."
  type        = number
}

variable "logs_bucket_prefix" {
  description = "Prefix of the access log bucket's globally unique name."
  type        = string
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
