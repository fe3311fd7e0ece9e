output "role_arn" {
  description = "ARN of the role Datadog assumes to read this account's metrics."
  value       = aws_iam_role.datadog.arn
}

output "integration_id" {
  description = "ID of the Datadog AWS integration account (datadog_integration_aws_account)."
  value       = datadog_integration_aws_account.this.id
}

output "namespaces" {
  description = "CloudWatch namespaces Datadog collects from this account."
  value       = local.namespaces
}
