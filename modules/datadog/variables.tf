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
  description = "SLO targets in percent over 30 days (docs/requirements.md §8.1, provisional; docs/observability.md says how to revisit them)."
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
  description = "Burn rates and static monitor thresholds. The burn rates are the SRE workbook's for a 30-day SLO: 14.4 over 1 h spends 2 % of the budget in an hour (pages); 6 is the warning of the same windows (no notification) and the latency monitor's rate over 6 h."
  type = object({
    burn_rate_fast            = optional(number, 14.4) # over 1 h, confirmed over 5 min: pages
    burn_rate_slow            = optional(number, 6)    # warning over 1 h / 5 min; latency over 6 h / 30 min
    queue_oldest_age_seconds  = optional(number, 300)
    outbox_oldest_age_seconds = optional(number, 300)
    dlq_messages_above        = optional(number, 0) # docs/requirements.md §8.1: DLQ 0 per day
    ecs_missing_tasks_minutes = optional(number, 10)
    healthy_hosts_below       = optional(number, 1)
    alb_5xx_above             = optional(number, 5)     # ALB-generated 5xx in 10 minutes
    failure_logs_above        = optional(number, 0)     # worker ERROR lines (and OUTBOX_STALE) in failure_log_window
    failure_log_window        = optional(string, "15m") # window of the failure-log monitor
    aws_metric_delay_seconds  = optional(number, 900)
    aws_no_data_minutes       = optional(number, 60)  # AWS metrics absent this long: the canary notifies
    unauthenticated_above     = optional(number, 300) # 401 answers (missing or unknown keys) in 10 minutes, all callers together: 0.5/s on average
    rate_limited_per_minute   = optional(number, 60)  # one client's requests refused with 429 a minute (1/s) ...
    rate_limited_minutes      = optional(number, 15)  # ... in every minute of this many minutes
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
    condition     = var.thresholds.dlq_messages_above >= 0 && var.thresholds.alb_5xx_above >= 0 && var.thresholds.failure_logs_above >= 0
    error_message = "dlq_messages_above, alb_5xx_above and failure_logs_above cannot be negative."
  }

  validation {
    condition     = contains(["5m", "10m", "15m", "30m", "1h"], var.thresholds.failure_log_window)
    error_message = "failure_log_window must be one of 5m, 10m, 15m, 30m, 1h."
  }

  validation {
    condition     = var.thresholds.unauthenticated_above >= 0 && var.thresholds.rate_limited_per_minute >= 0
    error_message = "unauthenticated_above and rate_limited_per_minute cannot be negative."
  }

  validation {
    condition     = var.thresholds.rate_limited_minutes >= 5 && var.thresholds.rate_limited_minutes <= 60
    error_message = "rate_limited_minutes must be 5-60: shorter fires on a client's burst, which the limiter answering 429 handles by design."
  }

  validation {
    condition     = var.thresholds.aws_no_data_minutes >= 60
    error_message = "aws_no_data_minutes below 60 would fire on the integration's normal 10-20 minute delay (canary window 30 min plus the evaluation delay)."
  }
}

variable "metrics_emitted" {
  description = "Metrics the services have already sent to this Datadog organisation (names of slo.tf's tag_configurations). Datadog refuses a tag configuration for a metric it has never received (400 \"Cannot configure tags on a metric that does not exist\"), so datadog_metric_tag_configuration is created only for the names listed here: empty at an environment's first apply (the services run the bootstrap image and send nothing), filled in after the first deploy (docs/deploy.md, \"First apply of an empty account\", step 7). A new metric is added here once its code runs."
  type        = set(string)
  default     = []

  validation {
    condition     = alltrue([for m in var.metrics_emitted : can(regex("^gift\\.[a-z0-9_.]+$", m))])
    error_message = "metrics_emitted holds gift.* metric names."
  }
}
