include "root" {
  path = find_in_parent_folders("root.hcl")
}

locals {
  env = read_terragrunt_config(find_in_parent_folders("env.hcl")).locals
}

terraform {
  source = "${local.env.modules_source}//modules/ecs-cluster?ref=${local.env.modules_ref}"
}

inputs = {
  name_prefix = local.env.name_prefix
}
