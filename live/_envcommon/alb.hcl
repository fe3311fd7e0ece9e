# Unit alb of every environment, included by live/<env>/alb/terragrunt.hcl.
# Paths and find_in_parent_folders resolve from the including unit: its env.hcl, its siblings.

locals {
  env = read_terragrunt_config(find_in_parent_folders("env.hcl")).locals
}

terraform {
  source = "${local.env.modules_source}//modules/alb?ref=${local.env.modules_ref}"
}

dependency "network" {
  config_path = "../network"

  mock_outputs = {
    vpc_id                = "vpc-00000000000000000"
    public_subnet_ids     = ["subnet-00000000000000001", "subnet-00000000000000002"]
    alb_security_group_id = "sg-00000000000000001"
  }
  mock_outputs_allowed_terraform_commands = ["validate", "plan"]
  mock_outputs_merge_strategy_with_state  = "shallow"
}

inputs = {
  name_prefix         = local.env.name_prefix
  vpc_id              = dependency.network.outputs.vpc_id
  public_subnet_ids   = dependency.network.outputs.public_subnet_ids
  security_group_id   = dependency.network.outputs.alb_security_group_id
  certificate_arn     = local.env.certificate_arn
  deletion_protection = local.env.deletion_protection
}
