# Values of the dev environment. Units read this file; prod/env.hcl has the same keys.
locals {
  env         = "dev"
  name_prefix = "gift-dev"

  # AWS account of dev (placeholder: set the real ID before the first apply). dev and prod are
  # separate accounts; allowed_account_ids in the generated provider refuses any other.
  account_id         = "111111111111"
  aws_region         = "ap-northeast-1"
  availability_zones = ["ap-northeast-1a", "ap-northeast-1c"]
  state_bucket       = "gift-tfstate-111111111111"

  # Which version of modules/ this environment runs: dev follows main (the tree), prod pins a
  # modules-v* tag made by the release workflow (docs/release.md).
  modules_source = "git::https://github.com/gift-platform/ecs-sre-gift-worker.git"
  modules_ref    = "main"

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
  datadog_notify           = "@slack-gift-alerts-dev"
  # gift.* metrics the services have already sent to Datadog (modules/datadog, metrics_emitted):
  # empty until the first deploy of this environment has run (docs/deploy.md, "First apply of an
  # empty account", step 7), then the eight names of modules/datadog/slo.tf tag_configurations.
  # Datadog refuses a tag configuration for a metric it has never received.
  datadog_metrics_emitted = []

  # Where dev and prod differ, and nothing else:
  tasks_in_private_subnets  = false # no NAT gateway: tasks in public subnets, SGs admit only the ALB
  certificate_arn           = null  # HTTP only (no domain for dev)
  deletion_protection       = false # ALB and RDS can be torn down
  db_instance_class         = "db.t4g.micro"
  db_multi_az               = false
  db_backup_retention_days  = 1
  log_retention_days        = 14
  failure_injection_enabled = true # the API's failure-injection hooks, dev only
  api                       = { cpu = 512, memory = 1024, min_count = 1, max_count = 3 }
  worker                    = { cpu = 512, memory = 1024, min_count = 1, max_count = 4 }
}
