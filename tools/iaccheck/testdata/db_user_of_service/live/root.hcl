remote_state {
  backend = "local"
  config  = {}
}

generate "provider" {
  path      = "provider.tf"
  if_exists = "overwrite_terragrunt"
  contents  = "# provider"
}
