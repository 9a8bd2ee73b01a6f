output "security_group_id" {
  description = "The load balancer's security group (the API tasks admit it)."
  value       = aws_security_group.this.id
}

output "target_group_arn" {
  description = "Target group of the API tasks."
  value       = aws_lb_target_group.api.arn
  # ECS refuses a target group that no listener uses yet.
  depends_on = [aws_lb_listener.https]
}

output "dns_name" {
  description = "The load balancer's own host name."
  value       = aws_lb.this.dns_name
}

output "url" {
  description = "The API's public URL (AUTERITY_PUBLIC_URL)."
  value       = "https://${var.domain_name}"
}

output "arn_suffix" {
  description = "For CloudWatch metrics and request-count autoscaling."
  value       = aws_lb.this.arn_suffix
}

output "target_group_arn_suffix" {
  description = "For request-count autoscaling."
  value       = aws_lb_target_group.api.arn_suffix
}
