# Staging: the production shape at a smaller size — one NAT gateway, a single-zone
# database kept 7 days, one or two of each task, and a self-hosted Temporal in
# the VPC (plain gRPC inside the VPC, no API key).
module "auterity" {
  #checkov:skip=CKV_AWS_293:Staging is rebuilt from nothing at will; production sets deletion_protection = true.
  #checkov:skip=CKV_AWS_150:Same: staging's load balancer may be deleted; production's is protected.
  #checkov:skip=CKV_AWS_157:A standby doubles staging's database cost for an availability staging does not promise; production is Multi-AZ.
  source      = "../../modules/stack"
  environment = "staging"

  vpc_cidr_block        = "10.10.0.0/16"
  availability_zones    = var.availability_zones
  single_nat_gateway    = true
  monitoring_cidr_block = var.monitoring_cidr_block

  domain_name   = var.domain_name
  zone_id       = var.zone_id
  bucket_prefix = var.bucket_prefix

  database_instance_class        = "db.t4g.medium"
  database_storage_gb            = 20
  database_multi_az              = false
  database_backup_retention_days = 7
  deletion_protection            = false

  image            = var.image
  api_cpu          = 512
  api_memory       = 1024
  api_min_count    = 1
  api_max_count    = 3
  worker_cpu       = 512
  worker_memory    = 1024
  worker_min_count = 1
  worker_max_count = 4
  # llm nodes' workers (`auterity worker --llm`): LiteLLM keeps ~360 MB resident.
  llm_worker_cpu       = 256
  llm_worker_memory    = 1024
  llm_worker_min_count = 1
  llm_worker_max_count = 2

  model_routes    = var.model_routes
  model_key_names = var.model_key_names
  otlp_endpoint   = var.otlp_endpoint

  temporal_address    = var.temporal_address
  temporal_namespace  = var.temporal_namespace
  temporal_tls        = false
  temporal_api_key    = false
  temporal_cidr_block = "10.10.0.0/16"
}
