# Unit datadog of every environment, included by live/<env>/datadog/terragrunt.hcl.
# Paths and find_in_parent_folders resolve from the including unit: its env.hcl, its siblings.

locals {
  env = read_terragrunt_config(find_in_parent_folders("env.hcl")).locals
}

terraform {
  source = "${local.env.modules_source}//modules/datadog?ref=${local.env.modules_ref}"
}

# The Datadog provider reads DD_API_KEY and DD_APP_KEY from the environment (GitHub secrets in CI).
generate "datadog_provider" {
  path      = "datadog_provider.tf"
  if_exists = "overwrite_terragrunt"
  contents  = <<-EOT
    provider "datadog" {
      api_url = "https://api.${local.env.datadog_site}/"
    }
  EOT
}

dependency "alb" {
  config_path = "../alb"

  mock_outputs = {
    target_group_arn        = "arn:aws:elasticloadbalancing:ap-northeast-1:111111111111:targetgroup/mock/0000000000000000"
    alb_arn_suffix          = "app/mock/0000000000000000"
    target_group_arn_suffix = "targetgroup/mock/0000000000000000"
  }
  mock_outputs_allowed_terraform_commands = ["validate", "plan"]
  mock_outputs_merge_strategy_with_state  = "shallow"
}

dependency "ecs_cluster" {
  config_path = "../ecs-cluster"

  mock_outputs = {
    cluster_arn  = "arn:aws:ecs:ap-northeast-1:111111111111:cluster/mock"
    cluster_name = "mock"
  }
  mock_outputs_allowed_terraform_commands = ["validate", "plan"]
  mock_outputs_merge_strategy_with_state  = "shallow"
}

dependency "api" {
  config_path = "../api"

  mock_outputs = {
    service_name       = "mock-api"
    service_arn        = "arn:aws:ecs:ap-northeast-1:111111111111:service/mock/mock-api"
    task_role_arn      = "arn:aws:iam::111111111111:role/mock-api-task"
    execution_role_arn = "arn:aws:iam::111111111111:role/mock-api-execution"
  }
  mock_outputs_allowed_terraform_commands = ["validate", "plan"]
  mock_outputs_merge_strategy_with_state  = "shallow"
}

dependency "worker" {
  config_path = "../worker"

  mock_outputs = {
    service_name       = "mock-worker"
    service_arn        = "arn:aws:ecs:ap-northeast-1:111111111111:service/mock/mock-worker"
    task_role_arn      = "arn:aws:iam::111111111111:role/mock-worker-task"
    execution_role_arn = "arn:aws:iam::111111111111:role/mock-worker-execution"
  }
  mock_outputs_allowed_terraform_commands = ["validate", "plan"]
  mock_outputs_merge_strategy_with_state  = "shallow"
}

dependency "sqs" {
  config_path = "../sqs"

  mock_outputs = {
    queue_url  = "https://sqs.ap-northeast-1.amazonaws.com/111111111111/mock"
    queue_arn  = "arn:aws:sqs:ap-northeast-1:111111111111:mock"
    queue_name = "mock"
    dlq_name   = "mock-dlq"
  }
  mock_outputs_allowed_terraform_commands = ["validate", "plan"]
  mock_outputs_merge_strategy_with_state  = "shallow"
}

dependency "rds" {
  config_path = "../rds"

  mock_outputs = {
    address                = "mock.rds.amazonaws.com"
    port                   = 5432
    database_name          = "gift"
    identifier             = "mock"
    master_user_secret_arn = "arn:aws:secretsmanager:ap-northeast-1:111111111111:secret:rds!db-mock"
  }
  mock_outputs_allowed_terraform_commands = ["validate", "plan"]
  mock_outputs_merge_strategy_with_state  = "shallow"
}

inputs = {
  env                     = local.env.env
  notify                  = local.env.datadog_notify
  runbook_url             = "https://github.com/${local.env.github_repository}/blob/main/docs/runbook.md"
  alb_arn_suffix          = dependency.alb.outputs.alb_arn_suffix
  target_group_arn_suffix = dependency.alb.outputs.target_group_arn_suffix
  cluster_name            = dependency.ecs_cluster.outputs.cluster_name
  api_service_name        = dependency.api.outputs.service_name
  worker_service_name     = dependency.worker.outputs.service_name
  queue_name              = dependency.sqs.outputs.queue_name
  dlq_name                = dependency.sqs.outputs.dlq_name
  rds_identifier          = dependency.rds.outputs.identifier
  metrics_emitted         = local.env.datadog_metrics_emitted
}
