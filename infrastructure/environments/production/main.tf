# Production: NAT gateway and database standby in every zone, 30 days of
# point-in-time recovery, deletion protection, Temporal Cloud over TLS with an
# API key (the secret auterity/production/temporal-api-key, filled by hand).
module "auterity" {
  source      = "../../modules/stack"
  environment = "production"

  vpc_cidr_block        = "10.20.0.0/16"
  availability_zones    = var.availability_zones
  single_nat_gateway    = false
  monitoring_cidr_block = var.monitoring_cidr_block

  domain_name   = var.domain_name
  zone_id       = var.zone_id
  bucket_prefix = var.bucket_prefix

  database_instance_class        = "db.r7g.large"
  database_storage_gb            = 100
  database_multi_az              = true
  database_backup_retention_days = 30
  deletion_protection            = true

  image            = var.image
  api_cpu          = 1024
  api_memory       = 2048
  api_min_count    = 3
  api_max_count    = 20
  worker_cpu       = 1024
  worker_memory    = 2048
  worker_min_count = 4
  worker_max_count = 40
  # llm nodes' workers (`auterity worker --llm`): LiteLLM keeps ~360 MB resident.
  llm_worker_cpu       = 512
  llm_worker_memory    = 2048
  llm_worker_min_count = 3
  llm_worker_max_count = 20

  model_routes    = var.model_routes
  model_key_names = var.model_key_names
  otlp_endpoint   = var.otlp_endpoint

  temporal_address    = var.temporal_address
  temporal_namespace  = var.temporal_namespace
  temporal_tls        = true
  temporal_api_key    = true
  temporal_cidr_block = "0.0.0.0/0"
}
