# Only the container: the value (the Gift API key of the client smoke-<env>, issued with giftctl)
# is put by an operator with
#   aws secretsmanager put-secret-value --secret-id <name> --secret-string "$KEY"
# so that it never passes through a Terraform variable or state (docs/deploy.md, "The smoke
# check's API key"). Read by the deploy role only (modules/ci-iam, statement SmokeApiKey), in the
# smoke step of .github/workflows/deploy-env.yml. The AWS-managed key aws/secretsmanager encrypts
# it, as the Datadog API key's secret: the deploy role needs no KMS grant.
#trivy:ignore:AVD-AWS-0098
resource "aws_secretsmanager_secret" "this" {
  name                    = "${var.name_prefix}/smoke-api-key"
  description             = "Gift API key of the client smoke-<env> for the deploy's smoke check (value set outside Terraform)"
  recovery_window_in_days = var.recovery_window_days
}
