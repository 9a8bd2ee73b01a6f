output "task_definition_arn" {
  description = "The task definition (run the migrations with it: README)."
  value       = aws_ecs_task_definition.this.arn
}

output "service_name" {
  description = "The ECS service, if any."
  value       = var.create_service ? aws_ecs_service.this[0].name : null
}

output "log_group_name" {
  description = "The process's CloudWatch log group."
  value       = aws_cloudwatch_log_group.this.name
}
