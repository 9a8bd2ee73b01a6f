variable "environment" {
  description = "Environment name (staging, production)."
  type        = string
}

variable "cidr_block" {
  description = "The VPC's range; a /16 leaves room for twelve /20 subnets."
  type        = string
}

variable "availability_zones" {
  description = "Availability zones to spread over (at least two: RDS needs them)."
  type        = list(string)

  validation {
    condition     = length(var.availability_zones) >= 2 && length(var.availability_zones) <= 4
    error_message = "Use two to four availability zones."
  }
}

variable "single_nat_gateway" {
  description = "One NAT gateway for every zone (cheaper, one zone's outage cuts egress) instead of one per zone."
  type        = bool
  default     = false
}

variable "kms_key_arn" {
  description = "KMS key for the flow log group."
  type        = string
}

variable "log_retention_days" {
  description = "How long flow logs are kept."
  type        = number
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
