# Unit smoke-api-key of every environment, included by live/<env>/smoke-api-key/terragrunt.hcl.
# Paths and find_in_parent_folders resolve from the including unit: its env.hcl, its siblings.

locals {
  env = read_terragrunt_config(find_in_parent_folders("env.hcl")).locals
}

terraform {
  source = "${local.env.modules_source}//modules/smoke-api-key?ref=${local.env.modules_ref}"
}

inputs = {
  name_prefix = local.env.name_prefix
}
