output "url" {
  description = "The API's public URL."
  value       = module.auterity.url
}

output "database_address" {
  description = "Host name of the PostgreSQL instance."
  value       = module.auterity.database_address
}

output "database_instance_arn" {
  description = "The RDS instance (restores, snapshots)."
  value       = module.auterity.database_instance_arn
}

output "secret_arns" {
  description = "Secrets Manager ARNs; fill temporal-api-key and model-keys by hand."
  value       = module.auterity.secret_arns
}

output "cluster_name" {
  description = "The ECS cluster."
  value       = module.auterity.cluster_name
}

output "migrate_task_definition_arn" {
  description = "Run before each rollout."
  value       = module.auterity.migrate_task_definition_arn
}

output "private_subnet_ids" {
  description = "Subnets for the migration task."
  value       = module.auterity.private_subnet_ids
}

output "migrate_security_group_id" {
  description = "Security group for the migration task."
  value       = module.auterity.migrate_security_group_id
}

output "service_discovery_namespace" {
  description = "DNS zone listing the tasks for Prometheus."
  value       = module.auterity.service_discovery_namespace
}

output "blob_bucket" {
  description = "The blob store bucket."
  value       = module.auterity.blob_bucket
}
