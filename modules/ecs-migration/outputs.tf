output "task_definition_family" {
  description = "Task definition family of the migration; CI registers a revision with the new image and runs it."
  value       = aws_ecs_task_definition.this.family
}

output "task_definition_arn" {
  description = "ARN of the revision Terraform registered last."
  value       = aws_ecs_task_definition.this.arn
}

output "task_role_arn" {
  description = "ARN of the migration task role (the CI deploy role may pass it to ECS)."
  value       = aws_iam_role.task.arn
}

output "execution_role_arn" {
  description = "ARN of the migration execution role (the CI deploy role may pass it to ECS)."
  value       = aws_iam_role.execution.arn
}
