variable "name_prefix" {
  description = "Prefix of every resource name, for example \"gift-dev\"; the service and task family are NAME_PREFIX-SERVICE_NAME."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-32 lowercase letters, digits or hyphens."
  }
}

variable "service_name" {
  description = "Short name of the service: \"api\" or \"worker\"."
  type        = string

  validation {
    condition     = contains(["api", "worker"], var.service_name)
    error_message = "service_name must be api or worker."
  }
}

variable "cluster_arn" {
  description = "ARN of the ECS cluster."
  type        = string
}

variable "subnet_ids" {
  description = "Subnets of the tasks (network module output task_subnet_ids)."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "Run tasks in at least two subnets (two availability zones)."
  }
}

variable "security_group_ids" {
  description = "Security groups of the tasks."
  type        = list(string)
}

variable "assign_public_ip" {
  description = "Give tasks a public IP (only in the no-NAT design where they run in public subnets; network module output assign_public_ip)."
  type        = bool
}

variable "min_count" {
  description = "Fewest tasks Application Auto Scaling keeps running; also the desired count the service is created with. The scaler owns the desired count between min_count and max_count (Terraform ignores it after creation); set both equal to pin a count."
  type        = number

  validation {
    condition     = var.min_count >= 1 && var.min_count <= 20
    error_message = "min_count must be between 1 and 20 (the worker's backlog-per-task metric divides by the running tasks, so never 0)."
  }
}

variable "max_count" {
  description = "Most tasks Application Auto Scaling may run. Bounded by what the database takes: each task holds up to DB_MAX_CONNS connections (docs/architecture.md)."
  type        = number

  validation {
    condition     = var.max_count >= 1 && var.max_count <= 20
    error_message = "max_count must be between 1 and 20."
  }
}

variable "scaling_target" {
  description = "Target of the target tracking policy. API (with a target group): ALB requests per task per minute (ALBRequestCountPerTarget). Worker: visible messages on the queue per running task (metric math ApproximateNumberOfMessagesVisible / RunningTaskCount, as AWS documents for SQS consumers)."
  type        = number

  validation {
    condition     = var.scaling_target > 0
    error_message = "scaling_target must be positive."
  }
}

variable "alb_arn_suffix" {
  description = "ARN suffix of the ALB (app/NAME/ID), with target_group_arn: the API scales on ALBRequestCountPerTarget of its target group. null for the worker."
  type        = string
  default     = null
}

variable "task_cpu" {
  description = "Fargate task CPU units for the whole task (app + Datadog Agent + log router)."
  type        = number
  default     = 512

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096], var.task_cpu)
    error_message = "task_cpu must be a Fargate size: 256, 512, 1024, 2048 or 4096."
  }
}

variable "task_memory" {
  description = "Fargate task memory in MiB for the whole task; the Agent reserves 256 MiB and the log router 64 MiB of it."
  type        = number
  default     = 1024

  validation {
    condition     = var.task_memory >= 1024 && var.task_memory <= 30720
    error_message = "task_memory must be between 1024 and 30720 MiB (the sidecars need about 320 MiB)."
  }
}

variable "image_repository_url" {
  description = "ECR repository URL of the app image (without tag)."
  type        = string
}

variable "image_repository_arn" {
  description = "ECR repository ARN of the app image; the execution role may pull from this repository only."
  type        = string
}

variable "image_tag" {
  description = "Image tag of the FIRST task definition revision only. After that CI owns the image: it registers new revisions rendered from the latest one and updates the service; Terraform ignores the service's task_definition (docs/deploy.md)."
  type        = string
  default     = "bootstrap"
}

variable "command" {
  description = "Command (arguments to the image ENTRYPOINT); null keeps the image's CMD."
  type        = list(string)
  default     = null
}

variable "container_port" {
  description = "Port the app container listens on and registers with the target group; null for a service without one (the worker)."
  type        = number
  default     = null
}

variable "target_group_arn" {
  description = "ALB target group the service registers its tasks with; null for the worker."
  type        = string
  default     = null
}

variable "health_check_grace_period_seconds" {
  description = "Seconds ECS ignores failing ALB health checks of a new task (only with a target group)."
  type        = number
  default     = 60

  validation {
    condition     = var.health_check_grace_period_seconds >= 0 && var.health_check_grace_period_seconds <= 600
    error_message = "health_check_grace_period_seconds must be between 0 and 600."
  }
}

variable "health_check_command" {
  description = "Container health check: the binary's own healthcheck subcommand (the images are distroless: no shell, no curl)."
  type        = list(string)

  validation {
    condition     = length(var.health_check_command) >= 2 && var.health_check_command[0] == "CMD"
    error_message = "health_check_command must be an exec form such as [\"CMD\", \"/usr/local/bin/api\", \"healthcheck\"]."
  }
}

variable "stop_timeout_seconds" {
  description = "Seconds between SIGTERM and SIGKILL. Must exceed the app's drain budget (API SHUTDOWN_TIMEOUT 20 s, worker WORKER_SHUTDOWN_TIMEOUT 25 s)."
  type        = number
  default     = 30

  validation {
    condition     = var.stop_timeout_seconds >= 2 && var.stop_timeout_seconds <= 120
    error_message = "stop_timeout_seconds must be between 2 and 120 (the Fargate maximum)."
  }
}

variable "environment" {
  description = "Plain environment of the app container (no secrets: the app connects to the database with IAM auth tokens). DD_ENV, DD_SERVICE, DD_VERSION, DD_AGENT_HOST, DB_AUTH and DB_USER are added by the module."
  type        = map(string)
  default     = {}

  validation {
    condition     = length([for k in keys(var.environment) : k if can(regex("PASSWORD|API_KEY", k))]) == 0
    error_message = "Do not pass passwords or API keys as plain environment."
  }

  validation {
    condition     = length(setintersection(keys(var.environment), ["DB_SECRET_ARN", "DB_AUTH", "DB_USER", "PGUSER", "PGPASSWORD", "DATABASE_URL"])) == 0
    error_message = "The services connect as db_user with IAM auth tokens (the module sets DB_AUTH and DB_USER): no DB_SECRET_ARN (the master secret is the migration task's), no PGUSER/DATABASE_URL."
  }
}

variable "db_user" {
  description = "Database user the service connects as with IAM database authentication (gift_api, gift_worker): DB_USER of the app, and the only dbuser its task role may rds-db:connect as."
  type        = string

  validation {
    condition     = can(regex("^gift_[a-z]+$", var.db_user))
    error_message = "db_user must be one of the services' database users, gift_<service> (docs/architecture.md, \"Database roles\")."
  }
}

variable "db_resource_id" {
  description = "DbiResourceId of the RDS instance (rds module output resource_id), the instance part of the dbuser ARN of rds-db:connect."
  type        = string

  validation {
    condition     = can(regex("^db-[A-Z0-9]+$", var.db_resource_id))
    error_message = "db_resource_id must be a DbiResourceId (db-...), not an identifier or a wildcard."
  }
}

variable "sqs_queue_arn" {
  description = "ARN of the main queue."
  type        = string
}

variable "sqs_dlq_arn" {
  description = "ARN of the dead-letter queue, for the consumer (the worker sends the messages of the gifts it fails there; its DLQ reconciler reads, hides and deletes the copies of gifts it queues again). Null: no DLQ access."
  type        = string
  default     = null
}

variable "sqs_access" {
  description = "What the task role may do on the queue: \"send\" (API: SendMessage) or \"consume\" (worker: Receive/Delete/ChangeVisibility/GetQueueAttributes)."
  type        = string

  validation {
    condition     = contains(["send", "consume"], var.sqs_access)
    error_message = "sqs_access must be send or consume."
  }
}

variable "log_group_name" {
  description = "CloudWatch log group of this service (logging module): the secondary copy of the app logs and the sidecars' own logs."
  type        = string
}

variable "log_group_arn" {
  description = "ARN of log_group_name (without the trailing :*)."
  type        = string
}

variable "firelens_config_bucket_arn" {
  description = "Bucket of the Fluent Bit extra-output file (logging module)."
  type        = string
}

variable "firelens_config_object_arn" {
  description = "ARN of the Fluent Bit extra-output file that copies app logs to CloudWatch (logging module)."
  type        = string
}

variable "datadog_api_key_secret_arn" {
  description = "Secrets Manager secret holding the Datadog API key (injected by ECS; the execution role may read exactly this)."
  type        = string
}

variable "datadog_site" {
  description = "Datadog site, for example datadoghq.com or ap1.datadoghq.com."
  type        = string
  default     = "datadoghq.com"

  validation {
    condition     = can(regex("^([a-z0-9]+\\.)?(datadoghq\\.com|datadoghq\\.eu|ddog-gov\\.com)$", var.datadog_site))
    error_message = "datadog_site must be a Datadog site such as datadoghq.com or ap1.datadoghq.com."
  }
}

variable "datadog_env" {
  description = "Unified service tag env (DD_ENV), for example dev or prod."
  type        = string
}

variable "datadog_service" {
  description = "Unified service tag service (DD_SERVICE): gift-api or gift-worker, the same value the app writes into its log lines."
  type        = string

  validation {
    condition     = contains(["gift-api", "gift-worker"], var.datadog_service)
    error_message = "datadog_service must be gift-api or gift-worker (the value the applications log)."
  }
}

variable "datadog_agent_image" {
  description = "Datadog Agent image, pinned to a version (never latest)."
  type        = string
  default     = "public.ecr.aws/datadog/agent:7.77.2"

  validation {
    condition     = !endswith(var.datadog_agent_image, ":latest") && can(regex(":[0-9]", var.datadog_agent_image))
    error_message = "Pin the Datadog Agent image to a version tag."
  }
}

variable "log_router_image" {
  description = "aws-for-fluent-bit image with the init process (an init-* tag, pinned), which can load the extra output file from S3 on Fargate."
  type        = string
  default     = "public.ecr.aws/aws-observability/aws-for-fluent-bit:init-2.34.3"

  validation {
    condition     = can(regex(":init-[0-9]", var.log_router_image))
    error_message = "log_router_image must be a pinned init-<version> tag of aws-for-fluent-bit."
  }
}
