# Values of the prod environment. Units read this file; dev/env.hcl has the same keys.
locals {
  env         = "prod"
  name_prefix = "gift-prod"

  # AWS account of prod (placeholder: set the real ID before the first apply). dev and prod are
  # separate accounts; allowed_account_ids in the generated provider refuses any other.
  account_id         = "222222222222"
  aws_region         = "ap-northeast-1"
  availability_zones = ["ap-northeast-1a", "ap-northeast-1c"]
  state_bucket       = "gift-tfstate-222222222222"

  # Which version of modules/ this environment runs: a modules-v* tag made by the release workflow
  # from main, after dev ran that code (docs/release.md). Created by the first release: until then
  # pr.yml's plan of prod fails and says so (scripts/release/check-modules-ref.sh).
  modules_source = "git::https://github.com/gift-platform/ecs-sre-gift-worker.git"
  modules_ref    = "modules-v0.1.0"

  github_repository = "gift-platform/ecs-sre-gift-worker"
  # Numeric ids of the owner and the repository (placeholders: set them before the first apply,
  # from `gh api repos/OWNER/NAME --jq '.owner.id, .id'`): the immutable OIDC subject names them
  # (modules/ci-iam/README.md, "Subject claims").
  github_owner_id      = "100000001"
  github_repository_id = "200000002"
  # ARN of the account's GitHub OIDC provider when another stack already created it; null: the
  # ci-iam unit creates it.
  github_oidc_provider_arn = null
  datadog_site             = "datadoghq.com"
  datadog_notify           = "@slack-gift-alerts @pagerduty-gift"
  # gift.* metrics the services have already sent to Datadog (modules/datadog, metrics_emitted):
  # empty until the first deploy of this environment has run (docs/deploy.md, "First apply of an
  # empty account", step 7), then the eight names of modules/datadog/slo.tf tag_configurations.
  # Datadog refuses a tag configuration for a metric it has never received.
  datadog_metrics_emitted = []

  # Where dev and prod differ, and nothing else:
  tasks_in_private_subnets = true # private subnets behind one NAT gateway per zone
  # ACM certificate for the API's domain (issued outside Terraform, docs/IMPORT_NOTES.md); placeholder.
  certificate_arn           = "arn:aws:acm:ap-northeast-1:222222222222:certificate/00000000-0000-0000-0000-000000000000"
  deletion_protection       = true # ALB and RDS refuse deletion; RDS keeps a final snapshot
  db_instance_class         = "db.t4g.small"
  db_multi_az               = true
  db_backup_retention_days  = 14
  log_retention_days        = 90
  failure_injection_enabled = false
  api                       = { cpu = 512, memory = 1024, min_count = 2, max_count = 8 }
  worker                    = { cpu = 512, memory = 1024, min_count = 2, max_count = 8 }
}
