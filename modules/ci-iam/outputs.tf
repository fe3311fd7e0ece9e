output "deploy_role_arn" {
  description = "Role deploy.yml assumes (set it as the GitHub environment variable AWS_DEPLOY_ROLE_ARN)."
  value       = aws_iam_role.deploy.arn
}

output "plan_role_arn" {
  description = "Role pr.yml's plan job assumes for terragrunt plan in the GitHub environment github_plan_environment (set it as that environment's variable AWS_PLAN_ROLE_ARN)."
  value       = aws_iam_role.plan.arn
}

output "oidc_provider_arn" {
  description = "ARN of the GitHub Actions OIDC provider the roles trust (created here, or github_oidc_provider_arn)."
  value       = local.oidc_provider_arn
}
