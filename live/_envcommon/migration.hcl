# Unit migration of every environment, included by live/<env>/migration/terragrunt.hcl.
# Paths and find_in_parent_folders resolve from the including unit: its env.hcl, its siblings.

locals {
  env = read_terragrunt_config(find_in_parent_folders("env.hcl")).locals
}

terraform {
  source = "${local.env.modules_source}//modules/ecs-migration?ref=${local.env.modules_ref}"
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

dependency "rds" {
  config_path = "../rds"

  mock_outputs = {
    address                = "mock.rds.amazonaws.com"
    port                   = 5432
    database_name          = "gift"
    identifier             = "mock"
    resource_id            = "db-MOCK0000000000000000000000"
    master_user_secret_arn = "arn:aws:secretsmanager:ap-northeast-1:111111111111:secret:rds!db-mock"
  }
  mock_outputs_allowed_terraform_commands = ["validate", "plan"]
  mock_outputs_merge_strategy_with_state  = "shallow"
}

dependency "sqs" {
  config_path = "../sqs"

  mock_outputs = {
    queue_url = "https://sqs.ap-northeast-1.amazonaws.com/111111111111/mock"
    queue_arn = "arn:aws:sqs:ap-northeast-1:111111111111:mock"
    dlq_url   = "https://sqs.ap-northeast-1.amazonaws.com/111111111111/mock-dlq"
    dlq_arn   = "arn:aws:sqs:ap-northeast-1:111111111111:mock-dlq"
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

inputs = {
  name_prefix          = local.env.name_prefix
  image_repository_url = dependency.ecr.outputs.repository_urls["api"]
  image_repository_arn = dependency.ecr.outputs.repository_arns["api"]
  db_secret_arn        = dependency.rds.outputs.master_user_secret_arn
  log_group_name       = dependency.logging.outputs.log_group_names["migrate"]
  log_group_arn        = dependency.logging.outputs.log_group_arns["migrate"]

  environment = {
    AWS_REGION    = local.env.aws_region
    LOG_LEVEL     = "info"
    PGHOST        = dependency.rds.outputs.address
    PGPORT        = tostring(dependency.rds.outputs.port)
    PGDATABASE    = dependency.rds.outputs.database_name
    PGSSLMODE     = "require"
    DB_SECRET_ARN = dependency.rds.outputs.master_user_secret_arn
    # for giftctl, run on this task definition (docs/runbook.md, "Running giftctl")
    SQS_QUEUE_URL = dependency.sqs.outputs.queue_url
    SQS_DLQ_URL   = dependency.sqs.outputs.dlq_url
  }
  operator_db_connect = {
    resource_id = dependency.rds.outputs.resource_id
    user        = "gift_operator"
  }
  ops_queues = {
    queue_arn = dependency.sqs.outputs.queue_arn
    dlq_arn   = dependency.sqs.outputs.dlq_arn
  }
}
