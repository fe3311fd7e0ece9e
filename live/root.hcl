# Included by every unit (live/<env>/<unit>/terragrunt.hcl). Values come from the unit's env.hcl.
locals {
  env = read_terragrunt_config(find_in_parent_folders("env.hcl")).locals

  # Units whose module requires no AWS provider (no hashicorp/aws in its versions.tf): they get no
  # generated provider "aws" block, which would make Terraform download an unconstrained
  # hashicorp/aws for nothing. tools/iaccheck's tests keep this list equal to what the modules
  # declare.
  units_without_aws_provider = ["datadog"]
  unit                       = basename(get_terragrunt_dir())
}

terraform_version_constraint  = ">= 1.11, < 2.0"
terragrunt_version_constraint = ">= 1.0, < 2.0"

# One state object per unit: s3://<state_bucket>/<env>/<unit>/terraform.tfstate, encrypted, locked
# with an S3 lock file next to it (use_lockfile; no DynamoDB table, see docs/IMPORT_NOTES.md).
# The bucket is created once per account outside Terraform (docs/IMPORT_NOTES.md, "Bootstrap").
remote_state {
  backend = "s3"

  generate = {
    path      = "backend.tf"
    if_exists = "overwrite_terragrunt"
  }

  config = {
    bucket       = local.env.state_bucket
    key          = "${path_relative_to_include()}/terraform.tfstate"
    region       = local.env.aws_region
    encrypt      = true
    use_lockfile = true
  }
}

# The provider is generated, not written in the modules: region, the account guard and the tags
# every resource gets (no hand-written tag maps in the modules). Units listed in
# units_without_aws_provider write their own provider (the datadog unit: datadog_provider.tf).
generate "provider" {
  disable   = contains(local.units_without_aws_provider, local.unit)
  path      = "provider.tf"
  if_exists = "overwrite_terragrunt"
  contents  = <<-EOF
    provider "aws" {
      region              = "${local.env.aws_region}"
      allowed_account_ids = ["${local.env.account_id}"]

      default_tags {
        tags = {
          Project     = "ecs-sre-gift-worker"
          Environment = "${local.env.env}"
          ManagedBy   = "terragrunt"
          Unit        = "${path_relative_to_include()}"
        }
      }
    }
  EOF
}
