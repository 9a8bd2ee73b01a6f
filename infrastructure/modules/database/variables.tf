variable "environment" {
  description = "Environment name (staging, production)."
  type        = string
}

variable "vpc_id" {
  description = "The VPC."
  type        = string
}

variable "subnet_ids" {
  description = "The database subnets (two zones at least)."
  type        = list(string)
}

variable "client_security_groups" {
  description = "Security groups allowed to connect on 5432, by a name known at plan time (api, worker, migrate)."
  type        = map(string)
}

variable "kms_key_arn" {
  description = "KMS key for storage, Performance Insights and the log groups."
  type        = string
}

variable "engine_major_version" {
  description = "PostgreSQL major version; RDS applies minor versions in the maintenance window."
  type        = string
  default     = "17"
}

variable "instance_class" {
  description = "RDS instance class."
  type        = string
}

variable "allocated_storage_gb" {
  description = "Initial storage."
  type        = number
  default     = 50
}

variable "max_allocated_storage_gb" {
  description = "Storage autoscaling ceiling."
  type        = number
  default     = 500
}

variable "database_name" {
  description = "The Auterity database."
  type        = string
  default     = "auterity"
}

variable "owner_username" {
  description = "Master user: owns the tables and runs the migrations."
  type        = string
  default     = "auterity_owner"
}

variable "owner_password" {
  description = "The master user's password."
  type        = string
  sensitive   = true
}

variable "multi_az" {
  description = "A synchronous standby in a second zone, failed over to automatically."
  type        = bool
}

variable "backup_retention_days" {
  description = "Automated backups kept (point-in-time recovery window), 1 to 35 days."
  type        = number

  validation {
    condition     = var.backup_retention_days >= 1 && var.backup_retention_days <= 35
    error_message = "RDS keeps 1 to 35 days of automated backups."
  }
}

variable "deletion_protection" {
  description = "Refuse to delete the instance."
  type        = bool
}

variable "log_retention_days" {
  description = "How long the exported server log is kept."
  type        = number
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
