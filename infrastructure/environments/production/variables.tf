variable "region" {
  description = "AWS region."
  type        = string
}

variable "availability_zones" {
  description = "Zones in the region to use."
  type        = list(string)
}

variable "domain_name" {
  description = "Public host name of the API and builder."
  type        = string
}

variable "zone_id" {
  description = "Route 53 hosted zone of domain_name."
  type        = string
}

variable "bucket_prefix" {
  description = "Prefix of the globally unique bucket names."
  type        = string
}

variable "image" {
  description = "The Auterity image by digest: <registry>/auterity@sha256:…"
  type        = string
}

variable "temporal_address" {
  description = "host:port of the Temporal frontend."
  type        = string
}

variable "temporal_namespace" {
  description = "Temporal namespace."
  type        = string
}

variable "model_routes" {
  description = "AUTERITY_MODEL_ROUTES: route -> models, primary first."
  type        = map(list(string))
}

variable "model_key_names" {
  description = "Keys of the model-keys secret to pass to the processes."
  type        = list(string)
  default     = ["OPENAI_API_KEY"]
}

variable "monitoring_cidr_block" {
  description = "Where Prometheus scrapes from."
  type        = string
}

variable "otlp_endpoint" {
  description = "OTLP endpoint of the OpenTelemetry Collector, or null."
  type        = string
  default     = null
}
