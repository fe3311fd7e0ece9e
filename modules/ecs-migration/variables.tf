variable "name_prefix" {
  description = "Prefix of every resource name, for example \"gift-dev\"; the task family is NAME_PREFIX-migrate."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-32 lowercase letters, digits or hyphens."
  }
}

variable "image_repository_url" {
  description = "ECR repository URL of the API image (the migrations are embedded in it)."
  type        = string
}

variable "image_repository_arn" {
  description = "ECR repository ARN of the API image; the execution role may pull from it only."
  type        = string
}

variable "image_tag" {
  description = "Image tag of the first revision only; CI registers a revision with the new image before every run."
  type        = string
  default     = "bootstrap"
}

variable "environment" {
  description = "Plain environment of the migration container (PGHOST, PGPORT, PGDATABASE, PGSSLMODE, DB_SECRET_ARN, LOG_LEVEL)."
  type        = map(string)

  validation {
    condition     = contains(keys(var.environment), "DB_SECRET_ARN") && contains(keys(var.environment), "PGHOST")
    error_message = "The migration needs at least PGHOST and DB_SECRET_ARN."
  }
}

variable "db_secret_arn" {
  description = "ARN of the RDS-managed master user secret; the task role may read exactly this one."
  type        = string
}

variable "log_group_name" {
  description = "CloudWatch log group of the migration task (logging module)."
  type        = string
}

variable "log_group_arn" {
  description = "ARN of log_group_name (without the trailing :*)."
  type        = string
}

variable "ops_queues" {
  description = "The send queue and its DLQ that giftctl, run as a one-off task on this task definition (docs/runbook.md, \"Running giftctl\"), may inspect and repair; null: no queue access."
  type = object({
    queue_arn = string
    dlq_arn   = string
  })
  default = null

  validation {
    condition     = var.ops_queues == null || (startswith(try(var.ops_queues.queue_arn, ""), "arn:aws:sqs:") && startswith(try(var.ops_queues.dlq_arn, ""), "arn:aws:sqs:"))
    error_message = "ops_queues.queue_arn and ops_queues.dlq_arn must be SQS queue ARNs."
  }
}

variable "operator_db_connect" {
  description = "giftctl, run as a one-off task on this task definition, connects as gift_operator with IAM database authentication (docs/runbook.md, \"Running giftctl\"): the task role gets rds-db:connect as that user on the instance of DbiResourceId resource_id. Null: giftctl can only use the master secret."
  type = object({
    resource_id = string
    user        = string
  })
  default = null

  validation {
    condition     = var.operator_db_connect == null || (can(regex("^db-[A-Z0-9]+$", try(var.operator_db_connect.resource_id, ""))) && try(var.operator_db_connect.user, "") == "gift_operator")
    error_message = "operator_db_connect.resource_id must be a DbiResourceId (db-..., no wildcard) and user gift_operator."
  }
}
