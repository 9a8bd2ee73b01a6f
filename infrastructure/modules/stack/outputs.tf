output "url" {
  description = "The API's public URL."
  value       = module.load_balancer.url
}

output "load_balancer_dns_name" {
  description = "The load balancer's own host name."
  value       = module.load_balancer.dns_name
}

output "database_address" {
  description = "Host name of the PostgreSQL instance."
  value       = module.database.address
}

output "database_instance_arn" {
  description = "The RDS instance (restores, snapshots)."
  value       = module.database.instance_arn
}

output "secret_arns" {
  description = "Secrets Manager ARNs by name; fill temporal-api-key and model-keys by hand."
  value       = module.secrets.arns
}

output "blob_bucket" {
  description = "The blob store bucket."
  value       = module.blob_store.bucket_name
}

output "cluster_name" {
  description = "The ECS cluster."
  value       = aws_ecs_cluster.this.name
}

output "migrate_task_definition_arn" {
  description = "Run this task before each rollout (README: Deploying)."
  value       = module.migrate.task_definition_arn
}

output "private_subnet_ids" {
  description = "Subnets to run the migration task in."
  value       = module.network.private_subnet_ids
}

output "migrate_security_group_id" {
  description = "Security group of the migration task."
  value       = aws_security_group.migrate.id
}

output "service_discovery_namespace" {
  description = "DNS zone where api.<zone>, worker.<zone> and llm-worker.<zone> list the tasks for Prometheus."
  value       = aws_service_discovery_private_dns_namespace.this.name
}

output "vpc_id" {
  description = "The VPC."
  value       = module.network.vpc_id
}

output "kms_key_arn" {
  description = "The environment's KMS key."
  value       = module.kms.key_arn
}
