locals {
  env = read_terragrunt_config(find_in_parent_folders("env.hcl")).locals
}

terraform {
  source = "git::https://example.com/repo.git//modules/net?ref=v1"
}

generate "provider" {
  path      = "provider.tf"
  if_exists = "overwrite_terragrunt"
  contents  = "# again"
}

inputs = {
  name = "net-${local.env.env}"
}
