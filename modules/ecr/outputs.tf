output "repository_urls" {
  description = "Repository URL by short name, for example { api = \"123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/gift-dev/api\" }."
  value       = { for k, r in aws_ecr_repository.this : k => r.repository_url }
}

output "repository_arns" {
  description = "Repository ARN by short name (for the CI deploy role's push permission and the execution roles' pull permission)."
  value       = { for k, r in aws_ecr_repository.this : k => r.arn }
}

output "repository_names" {
  description = "Repository name by short name, for example { api = \"gift-dev/api\" }."
  value       = { for k, r in aws_ecr_repository.this : k => r.name }
}
