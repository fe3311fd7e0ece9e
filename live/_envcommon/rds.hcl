# Unit rds of every environment, included by live/<env>/rds/terragrunt.hcl.
# Paths and find_in_parent_folders resolve from the including unit: its env.hcl, its siblings.

locals {
  env = read_terragrunt_config(find_in_parent_folders("env.hcl")).locals
}

terraform {
  source = "${local.env.modules_source}//modules/rds?ref=${local.env.modules_ref}"
}

dependency "network" {
  config_path = "../network"

  mock_outputs = {
    private_subnet_ids    = ["subnet-00000000000000003", "subnet-00000000000000004"]
    rds_security_group_id = "sg-00000000000000004"
  }
  mock_outputs_allowed_terraform_commands = ["validate", "plan"]
  mock_outputs_merge_strategy_with_state  = "shallow"
}

inputs = {
  name_prefix           = local.env.name_prefix
  private_subnet_ids    = dependency.network.outputs.private_subnet_ids
  security_group_id     = dependency.network.outputs.rds_security_group_id
  instance_class        = local.env.db_instance_class
  multi_az              = local.env.db_multi_az
  backup_retention_days = local.env.db_backup_retention_days
  deletion_protection   = local.env.deletion_protection
}
