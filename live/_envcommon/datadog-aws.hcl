# Unit datadog-aws of every environment, included by live/<env>/datadog-aws/terragrunt.hcl.
# Paths and find_in_parent_folders resolve from the including unit: its env.hcl, its siblings.

locals {
  env = read_terragrunt_config(find_in_parent_folders("env.hcl")).locals
}

terraform {
  source = "${local.env.modules_source}//modules/datadog-aws?ref=${local.env.modules_ref}"
}

# The Datadog provider reads DD_API_KEY and DD_APP_KEY from the environment (GitHub secrets in CI).
# The AWS provider comes from live/root.hcl (this module requires hashicorp/aws).
generate "datadog_provider" {
  path      = "datadog_provider.tf"
  if_exists = "overwrite_terragrunt"
  contents  = <<-EOT
    provider "datadog" {
      api_url = "https://api.${local.env.datadog_site}/"
    }
  EOT
}

inputs = {
  name_prefix = local.env.name_prefix
  env         = local.env.env
  regions     = [local.env.aws_region]
}
