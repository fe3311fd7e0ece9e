output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.this.id
}

output "public_subnet_ids" {
  description = "IDs of the two public subnets (ALB; ECS tasks when tasks_in_private_subnets is false)."
  value       = aws_subnet.public[*].id
}

output "private_subnet_ids" {
  description = "IDs of the two private subnets (RDS; ECS tasks when tasks_in_private_subnets is true)."
  value       = aws_subnet.private[*].id
}

output "task_subnet_ids" {
  description = "Subnets the ECS services and the migration task run in, according to tasks_in_private_subnets."
  value       = var.tasks_in_private_subnets ? aws_subnet.private[*].id : aws_subnet.public[*].id
}

output "assign_public_ip" {
  description = "Whether ECS tasks need a public IP to reach AWS APIs and Datadog (true exactly when they run in the public subnets)."
  value       = !var.tasks_in_private_subnets
}

output "alb_security_group_id" {
  description = "Security group of the ALB."
  value       = aws_security_group.alb.id
}

output "api_security_group_id" {
  description = "Security group of the API tasks and the migration task."
  value       = aws_security_group.api.id
}

output "worker_security_group_id" {
  description = "Security group of the worker tasks."
  value       = aws_security_group.worker.id
}

output "rds_security_group_id" {
  description = "Security group of the RDS instance."
  value       = aws_security_group.rds.id
}
