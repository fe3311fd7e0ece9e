output "alb_arn" {
  description = "ARN of the ALB."
  value       = aws_lb.this.arn
}

output "alb_arn_suffix" {
  description = "ARN suffix of the ALB (app/NAME/ID): the loadbalancer tag of its CloudWatch/Datadog metrics."
  value       = aws_lb.this.arn_suffix
}

output "alb_dns_name" {
  description = "DNS name of the ALB; point the API's DNS record at it."
  value       = aws_lb.this.dns_name
}

output "target_group_arn" {
  description = "ARN of the API target group (ip targets on the API port); the API service registers here."
  value       = aws_lb_target_group.api.arn
}

output "target_group_arn_suffix" {
  description = "ARN suffix of the API target group (targetgroup/NAME/ID): the targetgroup tag of its metrics."
  value       = aws_lb_target_group.api.arn_suffix
}

output "base_url" {
  description = "URL clients use (https when a certificate is configured)."
  value       = "${local.https ? "https" : "http"}://${aws_lb.this.dns_name}"
}
