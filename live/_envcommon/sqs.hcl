# Unit sqs of every environment, included by live/<env>/sqs/terragrunt.hcl.
# Paths and find_in_parent_folders resolve from the including unit: its env.hcl, its siblings.

locals {
  env = read_terragrunt_config(find_in_parent_folders("env.hcl")).locals
}

terraform {
  source = "${local.env.modules_source}//modules/sqs?ref=${local.env.modules_ref}"
}

inputs = {
  name_prefix       = local.env.name_prefix
  max_receive_count = 5
}
