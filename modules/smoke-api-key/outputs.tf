output "secret_arn" {
  description = "ARN of the smoke check's API key secret (the one secret the deploy role may read: modules/ci-iam smoke_api_key_secret_arn)."
  value       = aws_secretsmanager_secret.this.arn
}

output "secret_name" {
  description = "Name of the secret, for the put-secret-value command and deploy-env.yml's get-secret-value."
  value       = aws_secretsmanager_secret.this.name
}
