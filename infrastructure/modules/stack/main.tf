# One Auterity environment on AWS: the network, a KMS key, PostgreSQL on RDS, the
# secrets, the blob bucket, the load balancer with TLS and WAF, and the API, the
# workers and the llm workers as ECS Fargate services (plus the migrations as a
# task definition).
# Temporal is outside: Temporal Cloud or a self-hosted cluster, by address
# (infrastructure/README.md).

locals {
  name = "auterity-${var.environment}"
  tags = merge(var.tags, { Application = "auterity", Environment = var.environment })

  settings = merge(
    {
      AUTERITY_ENV                = "production"
      AUTERITY_PUBLIC_URL         = module.load_balancer.url
      AUTERITY_TEMPORAL_ADDRESS   = var.temporal_address
      AUTERITY_TEMPORAL_NAMESPACE = var.temporal_namespace
      AUTERITY_TEMPORAL_TLS       = tostring(var.temporal_tls)
      AUTERITY_TASK_QUEUE         = var.task_queue
      AUTERITY_BLOB_URL           = "s3://${module.blob_store.bucket_name}/outputs"
      AUTERITY_MODEL_ROUTES       = jsonencode(var.model_routes)
    },
    var.otlp_endpoint == null ? {} : {
      OTEL_EXPORTER_OTLP_ENDPOINT = var.otlp_endpoint
      OTEL_TRACES_EXPORTER        = "otlp"
    },
  )

  secrets = merge(
    {
      AUTERITY_SECRET_KEY   = module.secrets.arns["secret-key"]
      AUTERITY_DATABASE_URL = module.secrets.arns["database-url"]
    },
    var.temporal_api_key ? { AUTERITY_TEMPORAL_API_KEY = module.secrets.arns["temporal-api-key"] } : {},
    { for key in var.model_key_names : key => "${module.secrets.arns["model-keys"]}:${key}::" },
  )

  # llm nodes run on llm workers alone (README: Worker memory): the API puts this queue
  # in every run it starts and the llm workers poll it, so both take it from here.
  # The workers holding runs neither read it nor import LiteLLM.
  llm_split = { AUTERITY_LLM_TASK_QUEUE = var.llm_task_queue }
}

module "kms" {
  source      = "../kms"
  environment = var.environment
  tags        = local.tags
}

module "network" {
  source             = "../network"
  environment        = var.environment
  cidr_block         = var.vpc_cidr_block
  availability_zones = var.availability_zones
  single_nat_gateway = var.single_nat_gateway
  kms_key_arn        = module.kms.key_arn
  log_retention_days = var.log_retention_days
  tags               = local.tags
}

module "database" {
  source                 = "../database"
  environment            = var.environment
  vpc_id                 = module.network.vpc_id
  subnet_ids             = module.network.database_subnet_ids
  client_security_groups = local.task_groups
  kms_key_arn            = module.kms.key_arn
  instance_class         = var.database_instance_class
  allocated_storage_gb   = var.database_storage_gb
  multi_az               = var.database_multi_az
  backup_retention_days  = var.database_backup_retention_days
  deletion_protection    = var.deletion_protection
  owner_password         = module.secrets.owner_password
  log_retention_days     = var.log_retention_days
  tags                   = local.tags
}

module "secrets" {
  source               = "../secrets"
  environment          = var.environment
  kms_key_arn          = module.kms.key_arn
  database_address     = module.database.address
  database_name        = module.database.database_name
  owner_username       = module.database.owner_username
  recovery_window_days = var.deletion_protection ? 30 : 7
  tags                 = local.tags
}

module "blob_store" {
  source      = "../blob_store"
  bucket_name = "${var.bucket_prefix}-blobs"
  kms_key_arn = module.kms.key_arn
  tags        = local.tags
}

module "load_balancer" {
  source              = "../load_balancer"
  environment         = var.environment
  vpc_id              = module.network.vpc_id
  vpc_cidr_block      = module.network.vpc_cidr_block
  public_subnet_ids   = module.network.public_subnet_ids
  domain_name         = var.domain_name
  zone_id             = var.zone_id
  deletion_protection = var.deletion_protection
  kms_key_arn         = module.kms.key_arn
  log_retention_days  = var.log_retention_days
  logs_bucket_prefix  = var.bucket_prefix
  tags                = local.tags
}

# --- ECS ----------------------------------------------------------------------------

resource "aws_ecs_cluster" "this" {
  name = local.name
  tags = local.tags

  setting {
    name  = "containerInsights"
    value = "enhanced"
  }
}

resource "aws_service_discovery_private_dns_namespace" "this" {
  name        = "${local.name}.internal"
  description = "Task addresses of the Auterity services, for Prometheus"
  vpc         = module.network.vpc_id
  tags        = local.tags
}

module "api" {
  source                       = "../ecs_service"
  environment                  = var.environment
  component                    = "api"
  image                        = var.image
  command                      = ["api", "--host", "0.0.0.0", "--port", "8000"]
  ports                        = [8000]
  health_check_command         = ["CMD", "python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
  cpu                          = var.api_cpu
  memory                       = var.api_memory
  environment_variables        = merge(local.settings, local.llm_split, { OTEL_SERVICE_NAME = "auterity-api" })
  secrets                      = local.secrets
  task_role_arn                = aws_iam_role.task.arn
  kms_key_arn                  = module.kms.key_arn
  log_retention_days           = var.log_retention_days
  cluster_arn                  = aws_ecs_cluster.this.arn
  cluster_name                 = aws_ecs_cluster.this.name
  subnet_ids                   = module.network.private_subnet_ids
  security_group_id            = aws_security_group.api.id
  discovery_namespace_id       = aws_service_discovery_private_dns_namespace.this.id
  target_group_arn             = module.load_balancer.target_group_arn
  min_count                    = var.api_min_count
  max_count                    = var.api_max_count
  requests_per_task_target     = var.api_requests_per_task_target
  request_count_resource_label = "${module.load_balancer.arn_suffix}/${module.load_balancer.target_group_arn_suffix}"
  scale_in_cooldown_seconds    = 300
  tags                         = local.tags
}

module "worker" {
  source                 = "../ecs_service"
  environment            = var.environment
  component              = "worker"
  image                  = var.image
  command                = ["worker"]
  ports                  = [9464]
  stop_timeout_seconds   = 110 # SIGTERM lets in-flight activities finish
  cpu                    = var.worker_cpu
  memory                 = var.worker_memory
  environment_variables  = merge(local.settings, { AUTERITY_WORKER_METRICS_PORT = "9464", OTEL_SERVICE_NAME = "auterity-worker" })
  secrets                = local.secrets
  task_role_arn          = aws_iam_role.task.arn
  kms_key_arn            = module.kms.key_arn
  log_retention_days     = var.log_retention_days
  cluster_arn            = aws_ecs_cluster.this.arn
  cluster_name           = aws_ecs_cluster.this.name
  subnet_ids             = module.network.private_subnet_ids
  security_group_id      = aws_security_group.worker.id
  discovery_namespace_id = aws_service_discovery_private_dns_namespace.this.id
  min_count              = var.worker_min_count
  max_count              = var.worker_max_count
  # A scaled-in worker drains for up to two minutes: scale in slowly.
  scale_in_cooldown_seconds = 600
  tags                      = local.tags
}

# `auterity worker --llm`: polls llm_task_queue with the llm node activity alone and
# imports LiteLLM at start (~360 MB resident before any call). It reaches what the
# worker reaches (model providers, the blob store, PostgreSQL, Temporal), so it runs
# in the worker's security group, which also admits Prometheus on 9464
# (llm-worker.<namespace>, the job auterity-llm-worker).
module "llm_worker" {
  source                 = "../ecs_service"
  environment            = var.environment
  component              = "llm-worker"
  image                  = var.image
  command                = ["worker", "--llm"]
  ports                  = [9464]
  stop_timeout_seconds   = 110 # SIGTERM lets in-flight model calls finish
  cpu                    = var.llm_worker_cpu
  memory                 = var.llm_worker_memory
  environment_variables  = merge(local.settings, local.llm_split, { AUTERITY_WORKER_METRICS_PORT = "9464", OTEL_SERVICE_NAME = "auterity-llm-worker" })
  secrets                = local.secrets
  task_role_arn          = aws_iam_role.task.arn
  kms_key_arn            = module.kms.key_arn
  log_retention_days     = var.log_retention_days
  cluster_arn            = aws_ecs_cluster.this.arn
  cluster_name           = aws_ecs_cluster.this.name
  subnet_ids             = module.network.private_subnet_ids
  security_group_id      = aws_security_group.worker.id
  discovery_namespace_id = aws_service_discovery_private_dns_namespace.this.id
  min_count              = var.llm_worker_min_count
  max_count              = var.llm_worker_max_count
  # A scaled-in llm worker drains its model calls for up to two minutes: scale in slowly.
  scale_in_cooldown_seconds = 600
  tags                      = local.tags
}

# Run before each rollout: aws ecs run-task --task-definition <migrate_task_definition_arn> …
module "migrate" {
  source                = "../ecs_service"
  environment           = var.environment
  component             = "migrate"
  image                 = var.image
  entry_point           = ["/bin/sh", "-c"]
  command               = ["auterity migrate && auterity temporal setup"]
  cpu                   = 256
  memory                = 512
  environment_variables = local.settings
  secrets = merge(local.secrets, {
    AUTERITY_MIGRATION_DATABASE_URL = module.secrets.arns["owner-url"]
  })
  task_role_arn          = aws_iam_role.task.arn
  kms_key_arn            = module.kms.key_arn
  log_retention_days     = var.log_retention_days
  create_service         = false
  cluster_arn            = aws_ecs_cluster.this.arn
  cluster_name           = aws_ecs_cluster.this.name
  subnet_ids             = module.network.private_subnet_ids
  security_group_id      = aws_security_group.migrate.id
  discovery_namespace_id = aws_service_discovery_private_dns_namespace.this.id
  tags                   = local.tags
}

# --- what the processes may do: read and write blobs ---------------------------------

resource "aws_iam_role" "task" {
  name = "${local.name}-task"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "ecs-tasks.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
  tags = local.tags
}

resource "aws_iam_role_policy" "blobs" {
  name = "blob-store"
  role = aws_iam_role.task.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
        Resource = ["${module.blob_store.bucket_arn}/outputs/*"]
      },
      {
        Effect   = "Allow"
        Action   = ["s3:ListBucket"]
        Resource = [module.blob_store.bucket_arn]
      },
      {
        Effect   = "Allow"
        Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
        Resource = [module.kms.key_arn]
      },
    ]
  })
}
