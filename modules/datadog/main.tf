# One dashboard, eight monitors (requirements 8.2 at most eight: the six required, RDS CPU, and the
# outbox backlog; RDS connections is a dashboard graph, not a page) and the log pipeline. AWS metrics come from
# the Datadog AWS integration (set up in the Datadog account, outside Terraform) and arrive about
# 10 minutes late: those monitors wait aws_metric_delay_seconds before evaluating.
#
# Log monitors match on @error_code, not on status: the applications log a business "status" field
# (QUEUED, SENT, FAILED) which Datadog would otherwise read as the log level (docs/infrastructure.md, "Datadog").

locals {
  t       = var.thresholds
  lb      = lower(var.alb_arn_suffix)
  tg      = lower(var.target_group_arn_suffix)
  ecs     = "clustername:${var.cluster_name}"
  base    = ["app:gift", "env:${var.env}", "managed-by:terraform"]
  footer  = "\n\nRunbook: ${var.runbook_url}\n${var.notify}"
  awsdely = local.t.aws_metric_delay_seconds

  ecs_services = {
    api    = { name = var.api_service_name, dd = "gift-api" }
    worker = { name = var.worker_service_name, dd = "gift-worker" }
  }
}

resource "datadog_monitor" "alb_5xx" {
  name     = "[gift ${var.env}] ALB 5xx responses"
  type     = "query alert"
  priority = 2
  query    = "sum(last_5m):sum:aws.applicationelb.httpcode_elb_5xx{loadbalancer:${local.lb}}.as_count() + sum:aws.applicationelb.httpcode_target_5xx{loadbalancer:${local.lb}}.as_count() > ${local.t.alb_5xx_per_5m}"
  message  = "More than ${local.t.alb_5xx_per_5m} 5xx responses in 5 minutes at the ALB. Check ALB -> ECS (API tasks healthy? recent deploy?) -> DB, in that order.${local.footer}"
  tags     = concat(local.base, ["service:gift-api"])

  monitor_thresholds {
    critical = local.t.alb_5xx_per_5m
  }

  evaluation_delay    = local.awsdely
  require_full_window = false
  notify_no_data      = false
}

resource "datadog_monitor" "alb_healthy_hosts" {
  name     = "[gift ${var.env}] API has no healthy targets"
  type     = "query alert"
  priority = 1
  query    = "max(last_5m):min:aws.applicationelb.healthy_host_count{targetgroup:${local.tg}} < ${local.t.healthy_hosts_below}"
  message  = "The API target group has fewer than ${local.t.healthy_hosts_below} healthy targets: clients get 502/503. Look at the API service events and the stopped tasks' reason.${local.footer}"
  tags     = concat(local.base, ["service:gift-api"])

  monitor_thresholds {
    critical = local.t.healthy_hosts_below
  }

  evaluation_delay    = local.awsdely
  require_full_window = false
  notify_no_data      = false
}

# running < desired, sustained: tasks crash-loop, fail health checks or cannot be placed.
resource "datadog_monitor" "ecs_running_below_desired" {
  for_each = local.ecs_services

  name     = "[gift ${var.env}] ${each.value.dd}: running tasks below desired"
  type     = "query alert"
  priority = 2
  query    = "min(last_${local.t.ecs_missing_tasks_minutes}m):avg:aws.ecs.service.desired{${local.ecs},servicename:${each.value.name}} - avg:aws.ecs.service.running{${local.ecs},servicename:${each.value.name}} > 0"
  message  = "ECS service ${each.value.name} has had fewer running tasks than desired for ${local.t.ecs_missing_tasks_minutes} minutes. Check the service events and the stopped reason of the last tasks (aws ecs describe-services / list-tasks --desired-status STOPPED).${local.footer}"
  tags     = concat(local.base, ["service:${each.value.dd}"])

  monitor_thresholds {
    critical = 0
  }

  evaluation_delay    = local.awsdely
  require_full_window = true
  notify_no_data      = false
}

resource "datadog_monitor" "queue_oldest_message" {
  name     = "[gift ${var.env}] SQS backlog: oldest message too old"
  type     = "query alert"
  priority = 2
  query    = "max(last_10m):max:aws.sqs.approximate_age_of_oldest_message{queuename:${var.queue_name}} > ${local.t.queue_oldest_age_seconds}"
  message  = "The oldest message in ${var.queue_name} is older than ${local.t.queue_oldest_age_seconds} s: the worker is down, too slow or failing (SLO: 95% SENT within 5 minutes). Check the worker service, then its logs, then the DB.${local.footer}"
  tags     = concat(local.base, ["service:gift-worker"])

  monitor_thresholds {
    critical = local.t.queue_oldest_age_seconds
  }

  evaluation_delay    = local.awsdely
  require_full_window = false
  notify_no_data      = false
}

resource "datadog_monitor" "worker_failures" {
  name     = "[gift ${var.env}] Worker failure logs spiking"
  type     = "log alert"
  priority = 2
  query    = "logs(\"service:gift-worker env:${var.env} @error_code:(SEND_FAILED_FINAL OR MESSAGE_INVALID OR GIFT_UNKNOWN)\").index(\"*\").rollup(\"count\").last(\"10m\") > ${local.t.worker_failures_per_10m}"
  message  = "More than ${local.t.worker_failures_per_10m} gifts failed for good (or messages were unusable) in 10 minutes; they are on their way to the DLQ ${var.dlq_name}. Group the logs by @error_code and @error_message.${local.footer}"
  tags     = concat(local.base, ["service:gift-worker"])

  monitor_thresholds {
    critical = local.t.worker_failures_per_10m
  }

  notify_no_data = false
}

resource "datadog_monitor" "outbox_backlog" {
  name     = "[gift ${var.env}] Outbox not draining to SQS"
  type     = "query alert"
  priority = 2
  query    = "min(last_10m):max:gift.outbox.oldest_age_seconds{env:${var.env},service:gift-api} > ${local.t.outbox_oldest_age_seconds}"
  message  = "Accepted sends have waited more than ${local.t.outbox_oldest_age_seconds} s for 10 minutes without reaching SQS (gift.outbox.oldest_age_seconds). The API cannot publish: check SQS permissions/availability and the API logs.${local.footer}"
  tags     = concat(local.base, ["service:gift-api"])

  monitor_thresholds {
    critical = local.t.outbox_oldest_age_seconds
  }

  require_full_window = true
  notify_no_data      = false
}

resource "datadog_monitor" "rds_cpu" {
  name     = "[gift ${var.env}] RDS CPU high"
  type     = "query alert"
  priority = 3
  query    = "avg(last_15m):avg:aws.rds.cpuutilization{dbinstanceidentifier:${var.rds_identifier}} > ${local.t.rds_cpu_percent}"
  message  = "RDS ${var.rds_identifier} CPU has averaged above ${local.t.rds_cpu_percent}% for 15 minutes. Look for slow statements (log_min_duration_statement) and Performance Insights.${local.footer}"
  tags     = concat(local.base, ["service:gift-db"])

  monitor_thresholds {
    critical = local.t.rds_cpu_percent
  }

  evaluation_delay    = local.awsdely
  require_full_window = false
  notify_no_data      = false
}

# The applications' JSON logs carry a business "status" field (QUEUED, SENT, ok, rejected...) and
# the log level in "level". Datadog's JSON preprocessing reads "status" as the level, so without
# this pipeline every log line would be INFO. The status remapper makes "level" the log status.
resource "datadog_logs_custom_pipeline" "gift" {
  name       = "gift ${var.env}: level is the log status"
  is_enabled = true

  filter {
    query = "service:(gift-api OR gift-worker) env:${var.env}"
  }

  processor {
    status_remapper {
      name       = "Use level as the log status"
      is_enabled = true
      sources    = ["level"]
    }
  }
}

# ALB -> ECS -> DB -> Queue, top to bottom: the order of the runbook's triage.
resource "datadog_dashboard_json" "overview" {
  dashboard = jsonencode({
    title       = "Gift ${var.env}: API, worker, database, queue"
    description = "Start here (docs/runbook.md). Managed by Terraform: edit modules/datadog, not the UI."
    layout_type = "ordered"
    widgets = [
      { definition = { type = "manage_status", title = "Monitors", display_format = "countsAndList", query = "tag:app:gift tag:env:${var.env}", summary_type = "monitors" } },
      { definition = { type = "timeseries", title = "ALB requests and 5xx", requests = [
        { q = "sum:aws.applicationelb.request_count{loadbalancer:${local.lb}}.as_count()", display_type = "bars" },
        { q = "sum:aws.applicationelb.httpcode_elb_5xx{loadbalancer:${local.lb}}.as_count()", display_type = "bars" },
        { q = "sum:aws.applicationelb.httpcode_target_5xx{loadbalancer:${local.lb}}.as_count()", display_type = "bars" },
      ] } },
      { definition = { type = "timeseries", title = "ALB target response time p95 (s)", requests = [
        { q = "avg:aws.applicationelb.target_response_time.p95{loadbalancer:${local.lb}}", display_type = "line" },
      ] } },
      { definition = { type = "timeseries", title = "Healthy API targets", requests = [
        { q = "min:aws.applicationelb.healthy_host_count{targetgroup:${local.tg}}", display_type = "line" },
      ] } },
      { definition = { type = "timeseries", title = "ECS tasks: running vs desired", requests = [
        for s in values(local.ecs_services) : { q = "avg:aws.ecs.service.running{${local.ecs},servicename:${s.name}}, avg:aws.ecs.service.desired{${local.ecs},servicename:${s.name}}", display_type = "line" }
      ] } },
      { definition = { type = "timeseries", title = "Task CPU % by service", requests = [
        { q = "avg:ecs.fargate.cpu.percent{env:${var.env}} by {service}", display_type = "line" },
      ] } },
      { definition = { type = "timeseries", title = "Outbox: pending and oldest age (s)", requests = [
        { q = "max:gift.outbox.pending{env:${var.env},service:gift-api}", display_type = "line" },
        { q = "max:gift.outbox.oldest_age_seconds{env:${var.env},service:gift-api}", display_type = "line" },
      ] } },
      { definition = { type = "timeseries", title = "RDS CPU % and connections", requests = [
        { q = "avg:aws.rds.cpuutilization{dbinstanceidentifier:${var.rds_identifier}}", display_type = "line" },
        { q = "avg:aws.rds.database_connections{dbinstanceidentifier:${var.rds_identifier}}", display_type = "line" },
      ] } },
      { definition = { type = "timeseries", title = "Queue depth: main and DLQ", requests = [
        { q = "max:aws.sqs.approximate_number_of_messages_visible{queuename:${var.queue_name}}", display_type = "line" },
        { q = "max:aws.sqs.approximate_number_of_messages_visible{queuename:${var.dlq_name}}", display_type = "bars" },
      ] } },
      { definition = { type = "timeseries", title = "Oldest message age (s)", requests = [
        { q = "max:aws.sqs.approximate_age_of_oldest_message{queuename:${var.queue_name}}", display_type = "line" },
      ] } },
      { definition = { type = "log_stream", title = "Worker and API errors", query = "service:(gift-api OR gift-worker) env:${var.env} @level:ERROR", columns = ["service", "@error_code", "@gift_id", "@request_id", "@error_message"], indexes = [] } },
    ]
  })
}
