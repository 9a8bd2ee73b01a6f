output "address" {
  description = "Host name of the instance."
  value       = aws_db_instance.this.address
}

output "database_name" {
  description = "The Auterity database."
  value       = aws_db_instance.this.db_name
}

output "owner_username" {
  description = "The tables' owner (master user)."
  value       = aws_db_instance.this.username
}

output "instance_arn" {
  description = "ARN of the instance (for restores and snapshots)."
  value       = aws_db_instance.this.arn
}
