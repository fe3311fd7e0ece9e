data "aws_caller_identity" "current" {}

data "aws_region" "current" {}

data "aws_partition" "current" {}

locals {
  name    = "${var.name_prefix}-${var.service_name}"
  app     = "app"
  agent   = "datadog-agent"
  router  = "log-router"
  has_alb = var.target_group_arn != null

  cluster_name = split("/", var.cluster_arn)[1]
  queue_name   = split(":", var.sqs_queue_arn)[5]

  # Unified service tagging: the same env/service/version on the container environment (read by
  # the tracer and DogStatsD client) and on the docker labels (read by the Agent for metrics).
  # CI rewrites DD_VERSION, the version label and the version tag of the logs (FireLens dd_tags)
  # together with the image (scripts/deploy/render-task-definition.sh, docs/deploy.md).
  dd_tags = {
    DD_ENV     = var.datadog_env
    DD_SERVICE = var.datadog_service
    DD_VERSION = var.image_tag
  }

  # IAM database authentication: the app signs a token for DB_USER with the task role, which may
  # connect as that user only (iam.tf, statement DbConnect).
  app_environment = merge(var.environment, local.dd_tags, {
    DD_AGENT_HOST = "127.0.0.1" # DogStatsD 8125/udp and APM 8126/tcp on the Agent sidecar
    DB_AUTH       = "iam"
    DB_USER       = var.db_user
  })

  sidecar_log_configuration = {
    for c in [local.agent, local.router] : c => {
      logDriver = "awslogs"
      options = {
        awslogs-group         = var.log_group_name
        awslogs-region        = split(":", var.log_group_arn)[3]
        awslogs-stream-prefix = c
      }
    }
  }

  app_container = merge(
    {
      name                   = local.app
      image                  = "${var.image_repository_url}:${var.image_tag}"
      essential              = true
      readonlyRootFilesystem = true
      stopTimeout            = var.stop_timeout_seconds
      environment            = [for k in sort(keys(local.app_environment)) : { name = k, value = local.app_environment[k] }]
      dockerLabels = {
        "com.datadoghq.tags.env"     = var.datadog_env
        "com.datadoghq.tags.service" = var.datadog_service
        "com.datadoghq.tags.version" = var.image_tag
      }
      portMappings = var.container_port == null ? [] : [{ containerPort = var.container_port, protocol = "tcp" }]
      healthCheck = {
        command     = var.health_check_command
        interval    = 15
        timeout     = 5
        retries     = 3
        startPeriod = 15
      }
      # Start only once the Agent answers its health check (so early metrics and traces are not
      # dropped) and the log router is up (so early log lines are not lost).
      dependsOn = [
        { containerName = local.agent, condition = "HEALTHY" },
        { containerName = local.router, condition = "START" },
      ]
      # Logs: the Agent sidecar cannot read another container's stdout on Fargate, so stdout goes
      # through FireLens (Fluent Bit) to the Datadog log intake; the extra output file copies the
      # same lines to CloudWatch Logs.
      logConfiguration = {
        logDriver = "awsfirelens"
        options = {
          Name        = "datadog"
          Host        = "http-intake.logs.${var.datadog_site}"
          TLS         = "on"
          compress    = "gzip"
          provider    = "ecs"
          dd_service  = var.datadog_service
          dd_source   = "go"
          dd_tags     = "env:${var.datadog_env},version:${var.image_tag}"
          retry_limit = "2"
        }
        secretOptions = [{ name = "apikey", valueFrom = var.datadog_api_key_secret_arn }]
      }
    },
    var.command == null ? {} : { command = var.command },
  )

  agent_container = {
    name              = local.agent
    image             = var.datadog_agent_image
    essential         = false
    memoryReservation = 256
    environment = [for k, v in {
      DD_ENV                         = var.datadog_env # tags the Agent's own metrics too
      ECS_FARGATE                    = "true"
      DD_SITE                        = var.datadog_site
      DD_APM_ENABLED                 = "true"
      DD_ECS_TASK_COLLECTION_ENABLED = "true"
      # orchestrator, not the default low: on Fargate the Agent sends DogStatsD metrics without a
      # host, so the counts of two tasks of one revision would be the same series and Datadog keeps
      # one of them (DataDog/datadog-agent#3159): the SLO counters would under-count. task_arn keeps
      # them apart; modules/datadog's tag configurations index only the tags queries use, so
      # the per-task series are summed at ingestion and not billed per task
      # (docs/observability.md, "Metric catalogue").
      DD_DOGSTATSD_TAG_CARDINALITY = "orchestrator"
    } : { name = k, value = v }]
    secrets = [{ name = "DD_API_KEY", valueFrom = var.datadog_api_key_secret_arn }]
    portMappings = [
      { containerPort = 8125, protocol = "udp" },
      { containerPort = 8126, protocol = "tcp" },
    ]
    healthCheck = {
      command     = ["CMD-SHELL", "agent health"]
      interval    = 15
      timeout     = 5
      retries     = 3
      startPeriod = 30
    }
    logConfiguration = local.sidecar_log_configuration[local.agent]
  }

  router_container = {
    name              = local.router
    image             = var.log_router_image
    essential         = true
    memoryReservation = 64
    firelensConfiguration = {
      type    = "fluentbit"
      options = { enable-ecs-log-metadata = "true" }
    }
    environment = [
      # Parse the app's JSON line into fields before both outputs (built into the image).
      { name = "aws_fluent_bit_init_file_1", value = "/fluent-bit/configs/parse-json.conf" },
      # Second output: copy to CloudWatch Logs (logging module).
      { name = "aws_fluent_bit_init_s3_1", value = var.firelens_config_object_arn },
      { name = "CLOUDWATCH_LOG_GROUP", value = var.log_group_name },
    ]
    logConfiguration = local.sidecar_log_configuration[local.router]
  }
}

resource "aws_ecs_task_definition" "this" {
  family                   = local.name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.task_cpu
  memory                   = var.task_memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64" # CI builds linux/amd64 images on ubuntu runners
  }

  container_definitions = jsonencode([local.app_container, local.agent_container, local.router_container])
}

resource "aws_ecs_service" "this" {
  name             = local.name
  cluster          = var.cluster_arn
  task_definition  = aws_ecs_task_definition.this.arn
  desired_count    = var.min_count # at creation only: then Application Auto Scaling owns it (scaling.tf)
  launch_type      = "FARGATE"
  platform_version = "LATEST"

  # Rolling update that never drops below the desired count; a deployment whose tasks keep failing
  # their health checks is stopped and rolled back to the last completed one automatically.
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  health_check_grace_period_seconds = local.has_alb ? var.health_check_grace_period_seconds : null

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = var.security_group_ids
    assign_public_ip = var.assign_public_ip
  }

  dynamic "load_balancer" {
    for_each = local.has_alb ? [var.target_group_arn] : []
    content {
      target_group_arn = load_balancer.value
      container_name   = local.app
      container_port   = var.container_port
    }
  }

  enable_ecs_managed_tags = true
  propagate_tags          = "SERVICE"
  enable_execute_command  = false
  wait_for_steady_state   = false

  lifecycle {
    # CI owns which revision runs (new image per deploy). Terraform-side changes to the task
    # definition create a new revision of the same family, which the next deploy renders from;
    # see docs/deploy.md "Rolling out a Terraform change to the task definition".
    # Application Auto Scaling owns desired_count (scaling.tf): an apply must not reset it.
    ignore_changes = [task_definition, desired_count]

    precondition {
      condition     = (var.target_group_arn == null) == (var.container_port == null)
      error_message = "Set target_group_arn and container_port together (API) or neither (worker)."
    }

    precondition {
      condition     = (var.target_group_arn == null) == (var.alb_arn_suffix == null)
      error_message = "Set alb_arn_suffix with target_group_arn (the API scales on requests per target) or neither (the worker scales on its backlog)."
    }

    precondition {
      condition     = var.min_count <= var.max_count
      error_message = "min_count must not exceed max_count."
    }
  }
}
