variable "environment" {
  description = "Environment name (staging, production)."
  type        = string
}

variable "component" {
  description = "api, worker, llm-worker or migrate: names the container, log group and DNS record."
  type        = string
}

variable "image" {
  description = "Container image, by digest or immutable tag."
  type        = string
}

variable "command" {
  description = "Arguments after the image's `auterity` entrypoint, e.g. [\"worker\"]."
  type        = list(string)
}

variable "entry_point" {
  description = "Replaces the image's entrypoint (`auterity`), or null to keep it."
  type        = list(string)
  default     = null
}

variable "cpu" {
  description = "Task CPU units (1024 = one vCPU)."
  type        = number
}

variable "memory" {
  description = "Task memory in MiB."
  type        = number
}

variable "environment_variables" {
  description = "Plain settings (AUTERITY_*, OTEL_*)."
  type        = map(string)
}

variable "secrets" {
  description = "Environment variable name -> Secrets Manager ARN (or ARN:json-key::)."
  type        = map(string)
}

variable "ports" {
  description = "Container ports; the first is the load balancer's target."
  type        = list(number)
  default     = []
}

variable "health_check_command" {
  description = "Container health check (ECS form), or null."
  type        = list(string)
  default     = null
}

variable "stop_timeout_seconds" {
  description = "Time between SIGTERM and SIGKILL (Fargate allows up to 120)."
  type        = number
  default     = 30
}

variable "task_role_arn" {
  description = "Role the process runs as (blob store access)."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key of the secrets and the log group."
  type        = string
}

variable "log_retention_days" {
  description = "How long the process's log is kept."
  type        = number
}

variable "create_service" {
  description = "Run a service; false for a task definition run on demand (migrations)."
  type        = bool
  default     = true
}

variable "cluster_arn" {
  description = "The ECS cluster."
  type        = string
}

variable "cluster_name" {
  description = "The ECS cluster's name (autoscaling resource id)."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets of the tasks."
  type        = list(string)
}

variable "security_group_id" {
  description = "Security group of the tasks."
  type        = string
}

variable "discovery_namespace_id" {
  description = "Cloud Map private DNS namespace the service registers in."
  type        = string
}

variable "target_group_arn" {
  description = "Load balancer target group, or null."
  type        = string
  default     = null
}

variable "min_count" {
  description = "Fewest tasks."
  type        = number
  default     = 2
}

variable "max_count" {
  description = "Most tasks."
  type        = number
  default     = 10
}

variable "cpu_target_percent" {
  description = "Average CPU the service scales to keep."
  type        = number
  default     = 60
}

variable "requests_per_task_target" {
  description = "Load balancer requests per task per minute to scale on, or null."
  type        = number
  default     = null
}

variable "request_count_resource_label" {
  description = "app/<lb>/<id>/targetgroup/<tg>/<id>, for request-count scaling."
  type        = string
  default     = null
}

variable "scale_in_cooldown_seconds" {
  description = "Wait after a scale-in (workers drain their activities first)."
  type        = number
  default     = 300
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
