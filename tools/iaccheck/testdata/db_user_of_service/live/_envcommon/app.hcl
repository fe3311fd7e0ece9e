terraform {
  source = "git::https://example.com/repo.git//modules/app?ref=v1"
}

dependency "net" {
  config_path = "../net"

  mock_outputs = {
    vpc_id     = "vpc-mock"
    subnet_ids = ["subnet-mock"]
  }
  mock_outputs_allowed_terraform_commands = ["validate", "plan"]
}

inputs = {
  name    = "app"
  vpc_id  = dependency.net.outputs.vpc_id
  subnets = dependency.net.outputs.subnet_ids
  # The mistake: the api unit connects as the worker's database user.
  service_name = "api"
  db_user      = "gift_worker"
}
