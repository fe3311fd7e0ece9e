locals {
  env = read_terragrunt_config(find_in_parent_folders("env.hcl")).locals
}

terraform {
  source = "git::https://example.com/repo.git//modules/net?ref=v1"
}

inputs = {
  name = "net-${local.env.env}"
}
