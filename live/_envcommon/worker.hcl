# Unit worker of every environment, included by live/<env>/worker/terragrunt.hcl.
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
    dlq_url    = "https://sqs.ap-northeast-1.amazonaws.com/111111111111/mock-dlq"
    dlq_arn    = "arn:aws:sqs:ap-northeast-1:111111111111:mock-dlq"
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
  service_name               = "worker"
  cluster_arn                = dependency.ecs_cluster.outputs.cluster_arn
  subnet_ids                 = dependency.network.outputs.task_subnet_ids
  assign_public_ip           = dependency.network.outputs.assign_public_ip
  security_group_ids         = [dependency.network.outputs.worker_security_group_id]
  min_count                  = local.env.worker.min_count
  max_count                  = local.env.worker.max_count
  scaling_target             = 100 # visible messages per running task: docs/architecture.md "Scaling"
  task_cpu                   = local.env.worker.cpu
  task_memory                = local.env.worker.memory
  image_repository_url       = dependency.ecr.outputs.repository_urls["worker"]
  image_repository_arn       = dependency.ecr.outputs.repository_arns["worker"]
  health_check_command       = ["CMD", "/usr/local/bin/worker", "healthcheck"]
  stop_timeout_seconds       = 30 # > WORKER_SHUTDOWN_TIMEOUT (25 s)
  sqs_access                 = "consume"
  db_user                    = "gift_worker" # rds-db:connect as this user only; DB_AUTH=iam and DB_USER are set by the module
  db_resource_id             = dependency.rds.outputs.resource_id
  sqs_queue_arn              = dependency.sqs.outputs.queue_arn
  sqs_dlq_arn                = dependency.sqs.outputs.dlq_arn
  log_group_name             = dependency.logging.outputs.log_group_names["worker"]
  log_group_arn              = dependency.logging.outputs.log_group_arns["worker"]
  firelens_config_bucket_arn = dependency.logging.outputs.firelens_config_bucket_arn
  firelens_config_object_arn = dependency.logging.outputs.firelens_config_object_arn
  datadog_api_key_secret_arn = dependency.datadog_api_key.outputs.secret_arn
  datadog_site               = local.env.datadog_site
  datadog_env                = local.env.env
  datadog_service            = "gift-worker"

  environment = {
    SQS_QUEUE_URL           = dependency.sqs.outputs.queue_url
    SQS_DLQ_URL             = dependency.sqs.outputs.dlq_url # the DLQ reconciler
    AWS_REGION              = local.env.aws_region
    WORKER_CONCURRENCY      = "10"
    DB_MAX_CONNS            = "12"  # >= WORKER_CONCURRENCY + 2 (the database ping, the DLQ reconciler), or the worker exits 2
    WORKER_FAILURE_RATE     = "0.2" # the pseudo-send's failure rate (docs/requirements.md §14 decision 5)
    WORKER_RETRY_BASE_DELAY = "10s"
    WORKER_SHUTDOWN_TIMEOUT = "25s" # < visibility timeout 60 s and < stopTimeout 30 s
    WORKER_HEALTH_ADDR      = "127.0.0.1:8081"
    LOG_LEVEL               = "info"
    PGHOST                  = dependency.rds.outputs.address
    PGPORT                  = tostring(dependency.rds.outputs.port)
    PGDATABASE              = dependency.rds.outputs.database_name
    PGSSLMODE               = "require" # IAM tokens need TLS; no RDS CA bundle in the image (docs/architecture.md)
  }
}
