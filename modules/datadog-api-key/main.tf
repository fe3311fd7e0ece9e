# Only the container: the value (the Datadog API key) is put by an operator with
#   aws secretsmanager put-secret-value --secret-id <name> --secret-string "$DD_API_KEY"
# so that it never passes through a Terraform variable or state (docs/IMPORT_NOTES.md).
# The AWS-managed key aws/secretsmanager encrypts it; the execution roles need no KMS grant.
#trivy:ignore:AVD-AWS-0098
resource "aws_secretsmanager_secret" "this" {
  name                    = "${var.name_prefix}/datadog-api-key"
  description             = "Datadog API key for the Agent sidecar and the FireLens Datadog output (value set outside Terraform)"
  recovery_window_in_days = var.recovery_window_days
}
