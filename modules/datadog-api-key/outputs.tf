output "secret_arn" {
  description = "ARN of the Datadog API key secret (injected into the Agent as DD_API_KEY and into FireLens as apikey)."
  value       = aws_secretsmanager_secret.this.arn
}

output "secret_name" {
  description = "Name of the secret, for the put-secret-value command."
  value       = aws_secretsmanager_secret.this.name
}
