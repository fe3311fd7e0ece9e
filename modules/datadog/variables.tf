variable "env" {
  description = "Environment tag (dev or prod): scopes every query and tags every monitor."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*$", var.env))
    error_message = "env must be a lowercase environment name."
  }
}

variable "notify" {
  description = "Datadog notification handles appended to every monitor message, for example \"@slack-gift-alerts @pagerduty-gift\"."
  type        = string

  validation {
    condition     = can(regex("^@", var.notify))
    error_message = "notify must start with a Datadog @handle."
  }
}

variable "runbook_url" {
  description = "URL of docs/runbook.md in the repository; monitors link to its sections."
  type        = string

  validation {
    condition     = can(regex("^https://", var.runbook_url))
    error_message = "runbook_url must be an https URL."
  }
}

variable "alb_arn_suffix" {
  description = "ARN suffix of the ALB (alb module output alb_arn_suffix): the loadbalancer tag of ALB metrics."
  type        = string
}

variable "target_group_arn_suffix" {
  description = "ARN suffix of the API target group (alb module output target_group_arn_suffix)."
  type        = string
}

variable "cluster_name" {
  description = "ECS cluster name (the clustername tag of ECS metrics)."
  type        = string
}

variable "api_service_name" {
  description = "ECS service name of the API."
  type        = string
}

variable "worker_service_name" {
  description = "ECS service name of the worker."
  type        = string
}

variable "queue_name" {
  description = "Name of the main SQS queue."
  type        = string
}

variable "dlq_name" {
  description = "Name of the dead-letter queue (dashboard)."
  type        = string
}

variable "rds_identifier" {
  description = "DB instance identifier (the dbinstanceidentifier tag of RDS metrics)."
  type        = string
}

variable "thresholds" {
  description = "Monitor thresholds. Starting points for low traffic (requirements 8.1); revisit them with the SLOs."
  type = object({
    alb_5xx_per_5m            = optional(number, 10)
    queue_oldest_age_seconds  = optional(number, 300)
    worker_failures_per_10m   = optional(number, 5)
    outbox_oldest_age_seconds = optional(number, 300)
    rds_cpu_percent           = optional(number, 80)
    ecs_missing_tasks_minutes = optional(number, 10)
    healthy_hosts_below       = optional(number, 1)
    aws_metric_delay_seconds  = optional(number, 900)
  })
  default = {}

  validation {
    condition     = var.thresholds.rds_cpu_percent > 0 && var.thresholds.rds_cpu_percent <= 100
    error_message = "thresholds.rds_cpu_percent must be a percentage."
  }

  validation {
    condition     = var.thresholds.queue_oldest_age_seconds >= 60 && var.thresholds.outbox_oldest_age_seconds >= 60
    error_message = "Age thresholds below 60 s would page on normal batching."
  }
}
