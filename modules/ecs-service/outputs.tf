output "service_name" {
  description = "Name of the ECS service (the servicename tag of its metrics; --services of the aws ecs CLI)."
  value       = aws_ecs_service.this.name
}

output "service_arn" {
  description = "ARN of the ECS service (the CI deploy role may update exactly this)."
  value       = aws_ecs_service.this.arn
}

output "task_definition_family" {
  description = "Task definition family; CI registers new revisions of it."
  value       = aws_ecs_task_definition.this.family
}

output "task_definition_arn" {
  description = "ARN of the revision Terraform registered last (not necessarily the one running: CI owns that)."
  value       = aws_ecs_task_definition.this.arn
}

output "container_name" {
  description = "Name of the app container, whose image CI replaces."
  value       = local.app
}

output "task_role_arn" {
  description = "ARN of the task role (the CI deploy role may pass it to ECS)."
  value       = aws_iam_role.task.arn
}

output "execution_role_arn" {
  description = "ARN of the execution role (the CI deploy role may pass it to ECS)."
  value       = aws_iam_role.execution.arn
}

output "scaling_policy_name" {
  description = "Name of the target tracking policy (aws application-autoscaling describe-scaling-activities / describe-scaling-policies --service-namespace ecs)."
  value       = local.has_alb ? aws_appautoscaling_policy.requests_per_task[0].name : aws_appautoscaling_policy.backlog_per_task[0].name
}
