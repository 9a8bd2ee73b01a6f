variable "environment" {
  description = "Environment name (staging, production)."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key the secrets are encrypted with."
  type        = string
}

variable "database_address" {
  description = "Host name of the PostgreSQL instance."
  type        = string
}

variable "database_name" {
  description = "The Auterity database."
  type        = string
}

variable "owner_username" {
  description = "The database's master user, owner of the tables."
  type        = string
}

variable "recovery_window_days" {
  description = "Days a deleted secret can be restored."
  type        = number
  default     = 30
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
