variable "environment" {
  description = "Environment name (staging, production); part of every resource name."
  type        = string
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}

# --- network ----------------------------------------------------------------------

variable "vpc_cidr_block" {
  description = "The VPC's range (a /16)."
  type        = string
}

variable "availability_zones" {
  description = "Zones to spread the subnets, tasks and the database standby over."
  type        = list(string)
}

variable "single_nat_gateway" {
  description = "One NAT gateway instead of one per zone."
  type        = bool
}

variable "monitoring_cidr_block" {
  description = "Where Prometheus scrapes from (API :8000/metrics, workers :9464)."
  type        = string
}

# --- public entry -----------------------------------------------------------------

variable "domain_name" {
  description = "Public host name of the API and builder."
  type        = string
}

variable "zone_id" {
  description = "Route 53 hosted zone of domain_name."
  type        = string
}

variable "bucket_prefix" {
  description = "Prefix of the globally unique bucket names (blobs, access logs)."
  type        = string
}

# --- database ---------------------------------------------------------------------

variable "database_instance_class" {
  description = "RDS instance class."
  type        = string
}

variable "database_storage_gb" {
  description = "Initial database storage (it grows by itself up to 10x)."
  type        = number
}

variable "database_multi_az" {
  description = "A standby in a second zone."
  type        = bool
}

variable "database_backup_retention_days" {
  description = "Point-in-time recovery window."
  type        = number
}

variable "deletion_protection" {
  description = "Protect the database and load balancer from deletion; keep deleted secrets 30 days."
  type        = bool
}

variable "log_retention_days" {
  description = "Days every log group and the access logs are kept."
  type        = number
  default     = 365
}

# --- the processes ----------------------------------------------------------------

variable "image" {
  description = "The Auterity image (deploy/Dockerfile), by digest: registry/auterity@sha256:…"
  type        = string
}

variable "api_cpu" {
  description = "API task CPU units."
  type        = number
}

variable "api_memory" {
  description = "API task memory (MiB)."
  type        = number
}

variable "api_min_count" {
  description = "Fewest API tasks."
  type        = number
}

variable "api_max_count" {
  description = "Most API tasks."
  type        = number
}

variable "api_requests_per_task_target" {
  description = "Requests per API task per minute to scale on."
  type        = number
  default     = 3000
}

variable "worker_cpu" {
  description = "Worker task CPU units."
  type        = number
}

variable "worker_memory" {
  description = "Worker task memory (MiB)."
  type        = number
}

variable "worker_min_count" {
  description = "Fewest workers."
  type        = number
}

variable "worker_max_count" {
  description = "Most workers."
  type        = number
}

variable "llm_worker_cpu" {
  description = "llm worker task CPU units."
  type        = number
}

variable "llm_worker_memory" {
  description = "llm worker task memory (MiB): LiteLLM keeps ~360 MB resident, plus the calls in flight."
  type        = number

  validation {
    condition     = var.llm_worker_memory >= 1024
    error_message = "An llm worker needs 1024 MiB or more: LiteLLM alone keeps ~360 MB resident."
  }
}

variable "llm_worker_min_count" {
  description = "Fewest llm workers."
  type        = number
}

variable "llm_worker_max_count" {
  description = "Most llm workers."
  type        = number
}

variable "model_routes" {
  description = "AUTERITY_MODEL_ROUTES: route -> models, primary first."
  type        = map(list(string))
}

variable "model_key_names" {
  description = "Keys of the model-keys secret's JSON to pass as environment variables (OPENAI_API_KEY, …)."
  type        = list(string)
  default     = []
}

variable "otlp_endpoint" {
  description = "OTLP endpoint of an OpenTelemetry Collector for traces, or null for none."
  type        = string
  default     = null
}

# --- Temporal ---------------------------------------------------------------------

variable "temporal_address" {
  description = "host:port of the Temporal frontend: <ns>.<account>.tmprl.cloud:7233 or a self-hosted one."
  type        = string
}

variable "temporal_namespace" {
  description = "Temporal namespace."
  type        = string
}

variable "temporal_tls" {
  description = "Talk TLS to Temporal (always for Temporal Cloud)."
  type        = bool
}

variable "temporal_api_key" {
  description = "Pass the temporal-api-key secret as AUTERITY_TEMPORAL_API_KEY (Temporal Cloud API key auth)."
  type        = bool
}

variable "temporal_cidr_block" {
  description = "Where the Temporal frontend is: 0.0.0.0/0 for Temporal Cloud, the cluster's range when self-hosted."
  type        = string
}

variable "task_queue" {
  description = "Task queue of the workers."
  type        = string
  default     = "auterity"
}

variable "llm_task_queue" {
  description = "AUTERITY_LLM_TASK_QUEUE of the API and the llm workers: the task queue of llm node activities."
  type        = string
  default     = "auterity-llm"

  validation {
    condition     = var.llm_task_queue != "" && var.llm_task_queue != var.task_queue
    error_message = "llm_task_queue must name a queue of its own, which only the llm workers poll."
  }
}
