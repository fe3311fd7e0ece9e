# Unit api of every environment, included by live/<env>/api/terragrunt.hcl.
# Paths and find_in_parent_folders resolve from the including unit: its env.hcl, its siblings.

locals {
  env = read_terragrunt_config(find_in_parent_folders("env.hcl")).locals
}

terraform {
  source = "${local.env.modules_source}//modules/ecs-service?ref=${local.env.modules_ref}"
}

dependency "network" {
  config_path = "../network"

  mock_outputs = {
    task_subnet_ids          = ["subnet-00000000000000001", "subnet-00000000000000002"]
    assign_public_ip         = true
    api_security_group_id    = "sg-00000000000000002"
    worker_security_group_id = "sg-00000000000000003"
  }
  mock_outputs_allowed_terraform_commands = ["validate", "plan"]
  mock_outputs_merge_strategy_with_state  = "shallow"
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
    address       = "mock.rds.amazonaws.com"
    port          = 5432
    database_name = "gift"
    identifier    = "mock"
    resource_id   = "db-MOCK0000000000000000000000"
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

dependency "datadog_api_key" {
  config_path = "../datadog-api-key"

  mock_outputs = {
    secret_arn = "arn:aws:secretsmanager:ap-northeast-1:111111111111:secret:mock/datadog-api-key"
  }
  mock_outputs_allowed_terraform_commands = ["validate", "plan"]
  mock_outputs_merge_strategy_with_state  = "shallow"
}

inputs = {
  name_prefix                = local.env.name_prefix
  service_name               = "api"
  cluster_arn                = dependency.ecs_cluster.outputs.cluster_arn
  subnet_ids                 = dependency.network.outputs.task_subnet_ids
  assign_public_ip           = dependency.network.outputs.assign_public_ip
  security_group_ids         = [dependency.network.outputs.api_security_group_id]
  min_count                  = local.env.api.min_count
  max_count                  = local.env.api.max_count
  scaling_target             = 1200 # ALB requests per task per minute (20/s): docs/architecture.md "Scaling"
  alb_arn_suffix             = dependency.alb.outputs.alb_arn_suffix
  task_cpu                   = local.env.api.cpu
  task_memory                = local.env.api.memory
  image_repository_url       = dependency.ecr.outputs.repository_urls["api"]
  image_repository_arn       = dependency.ecr.outputs.repository_arns["api"]
  container_port             = 8080
  target_group_arn           = dependency.alb.outputs.target_group_arn
  health_check_command       = ["CMD", "/usr/local/bin/api", "healthcheck"]
  stop_timeout_seconds       = 30 # > SHUTDOWN_TIMEOUT (20 s); the ALB drains for 30 s before SIGTERM
  sqs_access                 = "send"
  db_user                    = "gift_api" # rds-db:connect as this user only; DB_AUTH=iam and DB_USER are set by the module
  db_resource_id             = dependency.rds.outputs.resource_id
  sqs_queue_arn              = dependency.sqs.outputs.queue_arn
  log_group_name             = dependency.logging.outputs.log_group_names["api"]
  log_group_arn              = dependency.logging.outputs.log_group_arns["api"]
  firelens_config_bucket_arn = dependency.logging.outputs.firelens_config_bucket_arn
  firelens_config_object_arn = dependency.logging.outputs.firelens_config_object_arn
  datadog_api_key_secret_arn = dependency.datadog_api_key.outputs.secret_arn
  datadog_site               = local.env.datadog_site
  datadog_env                = local.env.env
  datadog_service            = "gift-api"

  environment = {
    API_HOST                  = "0.0.0.0"
    API_PORT                  = "8080"
    SHUTDOWN_TIMEOUT          = "20s"
    FAILURE_INJECTION_ENABLED = tostring(local.env.failure_injection_enabled)
    SQS_QUEUE_URL             = dependency.sqs.outputs.queue_url
    AWS_REGION                = local.env.aws_region
    LOG_LEVEL                 = "info"
    PGHOST                    = dependency.rds.outputs.address
    PGPORT                    = tostring(dependency.rds.outputs.port)
    PGDATABASE                = dependency.rds.outputs.database_name
    PGSSLMODE                 = "require" # IAM tokens need TLS; no RDS CA bundle in the image (docs/architecture.md)
  }
}
