variable "env" {
  description = "Environment tag (dev or prod): scopes every query and tags every monitor and SLO."
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
  description = "URL of docs/runbook.md in the repository; each monitor links its own section (<url>#<heading anchor>)."
  type        = string

  validation {
    condition     = can(regex("^https://.*runbook\\.md$", var.runbook_url))
    error_message = "runbook_url must be the https URL of docs/runbook.md (without an #anchor: monitors add their own)."
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
  description = "Name of the dead-letter queue."
  type        = string
}

variable "rds_identifier" {
  description = "DB instance identifier (the dbinstanceidentifier tag of RDS metrics, dashboard only)."
  type        = string
}

variable "slo_targets" {
  description = "SLO targets in percent over 30 days (requirements 8.1, provisional; docs/observability.md says how to revisit them)."
  type = object({
    api_availability = optional(number, 99.9) # non-5xx share of API requests (probes excluded)
    api_latency      = optional(number, 95)   # share of POST /gifts and POST /gifts/{id}/send answered within 300 ms: p95 < 300 ms
    worker_freshness = optional(number, 95)   # share of finished sends that were SENT within 5 minutes of being accepted
  })
  default = {}

  validation {
    condition     = alltrue([for v in values(var.slo_targets) : v > 0 && v < 100])
    error_message = "SLO targets are percentages strictly between 0 and 100."
  }
}

variable "thresholds" {
  description = "Burn rates and static monitor thresholds. The burn rates are the SRE workbook's for a 30-day SLO: 14.4 spends 2 % of the budget in an hour, 6 spends 5 % in six hours."
  type = object({
    burn_rate_fast            = optional(number, 14.4) # over 1 h, confirmed over 5 min: pages
    burn_rate_slow            = optional(number, 6)    # over 6 h, confirmed over 30 min: pages
    queue_oldest_age_seconds  = optional(number, 300)
    outbox_oldest_age_seconds = optional(number, 300)
    dlq_messages_above        = optional(number, 0) # requirements 8.1: DLQ 0 per day
    ecs_missing_tasks_minutes = optional(number, 10)
    healthy_hosts_below       = optional(number, 1)
    aws_metric_delay_seconds  = optional(number, 900)
  })
  default = {}

  validation {
    condition     = var.thresholds.burn_rate_slow >= 1 && var.thresholds.burn_rate_slow < var.thresholds.burn_rate_fast
    error_message = "burn_rate_slow must be at least 1 and below burn_rate_fast."
  }

  validation {
    condition     = var.thresholds.queue_oldest_age_seconds >= 60 && var.thresholds.outbox_oldest_age_seconds >= 60
    error_message = "Age thresholds below 60 s would page on normal batching."
  }

  validation {
    condition     = var.thresholds.dlq_messages_above >= 0
    error_message = "dlq_messages_above cannot be negative."
  }
}
