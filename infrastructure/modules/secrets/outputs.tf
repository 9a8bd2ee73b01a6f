output "arns" {
  description = "Secret ARNs by name: secret-key, database-url, owner-url, temporal-api-key, model-keys."
  value       = { for name, secret in aws_secretsmanager_secret.this : name => secret.arn }
}

output "owner_password" {
  description = "The master user's password, for the RDS instance."
  value       = random_password.owner.result
  sensitive   = true
}

output "app_password" {
  description = "The app login's password, for the one-time CREATE ROLE (README)."
  value       = random_password.app.result
  sensitive   = true
}
