variable "bucket_name" {
  description = "Globally unique bucket name."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key the objects are encrypted with."
  type        = string
}

variable "noncurrent_version_days" {
  description = "Days an overwritten or deleted blob can still be restored."
  type        = number
  default     = 30
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
