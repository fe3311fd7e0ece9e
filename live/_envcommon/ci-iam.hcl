# Unit ci-iam of every environment, included by live/<env>/ci-iam/terragrunt.hcl.
# Paths and find_in_parent_folders resolve from the including unit: its env.hcl, its siblings.

locals {
  env = read_terragrunt_config(find_in_parent_folders("env.hcl")).locals
}

terraform {
  source = "${local.env.modules_source}//modules/ci-iam?ref=${local.env.modules_ref}"
}

dependency "ecr" {
  config_path = "../ecr"

  mock_outputs = {
    repository_urls = {
      api    = "111111111111.dkr.ecr.ap-northeast-1.amazonaws.com/mock/api"
      worker = "111111111111.dkr.ecr.ap-northeast-1.amazonaws.com/mock/worker"
    }
    repository_arns = {
      api    = "arn:aws:ecr:ap-northeast-1:111111111111:repository/mock/api"
      worker = "arn:aws:ecr:ap-northeast-1:111111111111:repository/mock/worker"
    }
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

dependency "migration" {
  config_path = "../migration"

  mock_outputs = {
    task_definition_family = "mock-migrate"
    task_role_arn          = "arn:aws:iam::111111111111:role/mock-migrate-task"
    execution_role_arn     = "arn:aws:iam::111111111111:role/mock-migrate-execution"
  }
  mock_outputs_allowed_terraform_commands = ["validate", "plan"]
  mock_outputs_merge_strategy_with_state  = "shallow"
}

dependency "logging" {
  config_path = "../logging"

  mock_outputs = {
    log_group_names = {
      api     = "/ecs/mock/api"
      worker  = "/ecs/mock/worker"
      migrate = "/ecs/mock/migrate"
    }
    log_group_arns = {
      api     = "arn:aws:logs:ap-northeast-1:111111111111:log-group:/ecs/mock/api"
      worker  = "arn:aws:logs:ap-northeast-1:111111111111:log-group:/ecs/mock/worker"
      migrate = "arn:aws:logs:ap-northeast-1:111111111111:log-group:/ecs/mock/migrate"
    }
    firelens_config_bucket_arn = "arn:aws:s3:::mock-firelens-config"
    firelens_config_object_arn = "arn:aws:s3:::mock-firelens-config/cloudwatch-copy.conf"
  }
  mock_outputs_allowed_terraform_commands = ["validate", "plan"]
  mock_outputs_merge_strategy_with_state  = "shallow"
}

dependency "smoke_api_key" {
  config_path = "../smoke-api-key"

  mock_outputs = {
    secret_arn = "arn:aws:secretsmanager:ap-northeast-1:111111111111:secret:mock/smoke-api-key-AbCdEf"
  }
  mock_outputs_allowed_terraform_commands = ["validate", "plan"]
  mock_outputs_merge_strategy_with_state  = "shallow"
}

inputs = {
  name_prefix              = local.env.name_prefix
  github_repository        = local.env.github_repository
  github_owner_id          = local.env.github_owner_id
  github_repository_id     = local.env.github_repository_id
  github_oidc_provider_arn = local.env.github_oidc_provider_arn
  github_environment       = local.env.env
  github_plan_environment  = "plan-${local.env.env}"
  ecr_repository_arns      = values(dependency.ecr.outputs.repository_arns)
  ecs_cluster_arn          = dependency.ecs_cluster.outputs.cluster_arn
  ecs_service_arns         = [dependency.api.outputs.service_arn, dependency.worker.outputs.service_arn]
  migration_task_family    = dependency.migration.outputs.task_definition_family
  migration_log_group_arn  = dependency.logging.outputs.log_group_arns["migrate"]
  state_bucket_name        = local.env.state_bucket
  smoke_api_key_secret_arn = dependency.smoke_api_key.outputs.secret_arn

  pass_role_arns = [
    dependency.api.outputs.task_role_arn,
    dependency.api.outputs.execution_role_arn,
    dependency.worker.outputs.task_role_arn,
    dependency.worker.outputs.execution_role_arn,
    dependency.migration.outputs.task_role_arn,
    dependency.migration.outputs.execution_role_arn,
  ]
}
