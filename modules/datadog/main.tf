# Ten monitors (docs/observability.md, "Alerts", explains the count against requirements 8.2):
# five burn-rate alerts on the three SLOs (slo.tf) and five static ones for what an SLO cannot see
# in time: no healthy API target, tasks missing, sends stuck before or in SQS, and the DLQ.
#
# Each message links its own section of docs/runbook.md; `make lint` (tools/iaccheck) fails when a
# linked heading does not exist or a monitor links none.
#
# AWS metrics come from the Datadog AWS integration (set up in the Datadog account, outside
# Terraform) and arrive about 10 minutes late: those monitors wait aws_metric_delay_seconds.

locals {
  t       = var.thresholds
  lb      = lower(var.alb_arn_suffix)
  tg      = lower(var.target_group_arn_suffix)
  ecs     = "clustername:${var.cluster_name}"
  base    = ["app:gift", "env:${var.env}", "managed-by:terraform"]
  awsdely = local.t.aws_metric_delay_seconds

  # burn_rate() query of a 30-day SLO, as Datadog's SLO alert expects it.
  burn = {
    fast = { long = "1h", short = "5m", rate = local.t.burn_rate_fast }
    slow = { long = "6h", short = "30m", rate = local.t.burn_rate_slow }
  }
  burn_query = { for k, w in local.burn : k => "over(\"30d\").long_window(\"${w.long}\").short_window(\"${w.short}\") > ${w.rate}" }
}

# --- SLO burn rates: multi-window, multi-burn-rate (SRE workbook, chapter 5) ----------------------

resource "datadog_monitor" "api_availability_fast_burn" {
  name     = "[gift ${var.env}] API availability: error budget burning fast"
  type     = "slo alert"
  priority = 1
  query    = "burn_rate(\"${datadog_service_level_objective.api_availability.id}\").${local.burn_query.fast}"
  message  = <<-EOT
    The API answers 5xx at ${local.burn.fast.rate}x the rate its ${var.slo_targets.api_availability} % SLO allows (over 1 h, still true over the last 5 min): 2 % of the 30-day budget gone in an hour.
    Runbook: ${var.runbook_url}#api-availability-error-budget-burning
    ${var.notify}
  EOT
  tags     = concat(local.base, ["service:gift-api"])

  monitor_thresholds {
    critical = local.burn.fast.rate
  }
}

resource "datadog_monitor" "api_availability_slow_burn" {
  name     = "[gift ${var.env}] API availability: error budget burning"
  type     = "slo alert"
  priority = 2
  query    = "burn_rate(\"${datadog_service_level_objective.api_availability.id}\").${local.burn_query.slow}"
  message  = <<-EOT
    The API answers 5xx at ${local.burn.slow.rate}x the rate its ${var.slo_targets.api_availability} % SLO allows (over 6 h, still true over the last 30 min): 5 % of the 30-day budget gone.
    Runbook: ${var.runbook_url}#api-availability-error-budget-burning
    ${var.notify}
  EOT
  tags     = concat(local.base, ["service:gift-api"])

  monitor_thresholds {
    critical = local.burn.slow.rate
  }
}

# Latency has the slow pair only: the target is provisional (low load), and a sudden collapse
# (timeouts, database down) shows up as 5xx, which the availability alerts page on.
resource "datadog_monitor" "api_latency_burn" {
  name     = "[gift ${var.env}] API latency: POST /gifts and /send slower than 300 ms"
  type     = "slo alert"
  priority = 3
  query    = "burn_rate(\"${datadog_service_level_objective.api_latency.id}\").${local.burn_query.slow}"
  message  = <<-EOT
    POST /gifts and /send miss 300 ms at ${local.burn.slow.rate}x the rate the p95 SLO allows (over 6 h, still true over the last 30 min).
    Runbook: ${var.runbook_url}#api-latency-error-budget-burning
    ${var.notify}
  EOT
  tags     = concat(local.base, ["service:gift-api"])

  monitor_thresholds {
    critical = local.burn.slow.rate
  }
}

resource "datadog_monitor" "worker_freshness_fast_burn" {
  name     = "[gift ${var.env}] Worker freshness: sends late or failing fast"
  type     = "slo alert"
  priority = 1
  query    = "burn_rate(\"${datadog_service_level_objective.worker_freshness.id}\").${local.burn_query.fast}"
  message  = <<-EOT
    Finished sends miss "SENT within 5 minutes" at ${local.burn.fast.rate}x the rate the ${var.slo_targets.worker_freshness} % SLO allows (over 1 h, still true over the last 5 min).
    Runbook: ${var.runbook_url}#worker-freshness-error-budget-burning
    ${var.notify}
  EOT
  tags     = concat(local.base, ["service:gift-worker"])

  monitor_thresholds {
    critical = local.burn.fast.rate
  }
}

resource "datadog_monitor" "worker_freshness_slow_burn" {
  name     = "[gift ${var.env}] Worker freshness: sends late or failing"
  type     = "slo alert"
  priority = 2
  query    = "burn_rate(\"${datadog_service_level_objective.worker_freshness.id}\").${local.burn_query.slow}"
  message  = <<-EOT
    Finished sends miss "SENT within 5 minutes" at ${local.burn.slow.rate}x the rate the ${var.slo_targets.worker_freshness} % SLO allows (over 6 h, still true over the last 30 min).
    Runbook: ${var.runbook_url}#worker-freshness-error-budget-burning
    ${var.notify}
  EOT
  tags     = concat(local.base, ["service:gift-worker"])

  monitor_thresholds {
    critical = local.burn.slow.rate
  }
}

# --- Static monitors: what the SLOs cannot see (or not in time) ------------------------------------

# With no healthy target the API emits nothing, so its availability SLO cannot burn: this pages.
resource "datadog_monitor" "alb_healthy_hosts" {
  name     = "[gift ${var.env}] API has no healthy targets"
  type     = "query alert"
  priority = 1
  query    = "max(last_5m):min:aws.applicationelb.healthy_host_count{targetgroup:${local.tg}} < ${local.t.healthy_hosts_below}"
  message  = <<-EOT
    The API target group has fewer than ${local.t.healthy_hosts_below} healthy targets: clients get 502/503.
    Runbook: ${var.runbook_url}#no-healthy-api-targets
    ${var.notify}
  EOT
  tags     = concat(local.base, ["service:gift-api"])

  monitor_thresholds {
    critical = local.t.healthy_hosts_below
  }

  evaluation_delay    = local.awsdely
  require_full_window = false
  notify_no_data      = false
}

# running < desired, sustained: tasks crash-loop, fail health checks or cannot be placed. One
# multi-alert monitor: it alerts separately for each service of the cluster, the API and the worker
# (requirements 8.2 #3 and #4; one-off migration tasks are not services).
resource "datadog_monitor" "ecs_running_below_desired" {
  name     = "[gift ${var.env}] {{servicename.name}}: running tasks below desired"
  type     = "query alert"
  priority = 2
  query    = "min(last_${local.t.ecs_missing_tasks_minutes}m):avg:aws.ecs.service.desired{${local.ecs}} by {servicename} - avg:aws.ecs.service.running{${local.ecs}} by {servicename} > 0"
  message  = <<-EOT
    ECS service {{servicename.name}} has had fewer running tasks than desired for ${local.t.ecs_missing_tasks_minutes} minutes.
    {{#is_exact_match "servicename.name" "${var.worker_service_name}"}}Runbook: ${var.runbook_url}#worker-stopped{{/is_exact_match}}
    {{#is_exact_match "servicename.name" "${var.api_service_name}"}}Runbook: ${var.runbook_url}#ecs-running--desired{{/is_exact_match}}
    ${var.notify}
  EOT
  tags     = concat(local.base, ["service:gift-api", "service:gift-worker"])

  monitor_thresholds {
    critical = 0
  }

  evaluation_delay    = local.awsdely
  require_full_window = true
  notify_no_data      = false
}

# A stalled worker finishes nothing, so the freshness SLO only burns once the sends finish late:
# the age of the oldest message pages first.
resource "datadog_monitor" "queue_oldest_message" {
  name     = "[gift ${var.env}] SQS backlog: oldest message too old"
  type     = "query alert"
  priority = 2
  query    = "max(last_10m):max:aws.sqs.approximate_age_of_oldest_message{queuename:${var.queue_name}} > ${local.t.queue_oldest_age_seconds}"
  message  = <<-EOT
    The oldest message in ${var.queue_name} is older than ${local.t.queue_oldest_age_seconds} s: the worker is down, paused, too slow or failing (SLO: 95 % SENT within 5 minutes).
    Runbook: ${var.runbook_url}#queue-backlog
    ${var.notify}
  EOT
  tags     = concat(local.base, ["service:gift-worker"])

  monitor_thresholds {
    critical = local.t.queue_oldest_age_seconds
  }

  evaluation_delay    = local.awsdely
  require_full_window = false
  notify_no_data      = false
}

# Requirements 8.1: DLQ 0 per day. Visible + in flight: a message someone is reading at that moment
# (the worker's DLQ reconciler, an operator's receive) is not visible, but still in the DLQ.
resource "datadog_monitor" "dlq_not_empty" {
  name     = "[gift ${var.env}] DLQ not empty"
  type     = "query alert"
  priority = 2
  query    = "max(last_5m):max:aws.sqs.approximate_number_of_messages_visible{queuename:${var.dlq_name}} + max:aws.sqs.approximate_number_of_messages_not_visible{queuename:${var.dlq_name}} > ${local.t.dlq_messages_above}"
  message  = <<-EOT
    ${var.dlq_name} holds messages: gifts that FAILED for good, or messages the worker could not use (MESSAGE_INVALID, GIFT_UNKNOWN). It stays red until the DLQ is emptied after the investigation.
    Runbook: ${var.runbook_url}#worker-failures-and-the-dlq
    ${var.notify}
  EOT
  tags     = concat(local.base, ["service:gift-worker"])

  monitor_thresholds {
    critical = local.t.dlq_messages_above
  }

  evaluation_delay    = local.awsdely
  require_full_window = false
  notify_no_data      = false
}

# Accepted sends that never reach SQS are invisible to every queue metric and to the freshness SLO.
resource "datadog_monitor" "outbox_backlog" {
  name     = "[gift ${var.env}] Outbox not draining to SQS"
  type     = "query alert"
  priority = 2
  query    = "min(last_10m):max:gift.outbox.oldest_age_seconds{${local.api_scope}} > ${local.t.outbox_oldest_age_seconds}"
  message  = <<-EOT
    Accepted sends have waited more than ${local.t.outbox_oldest_age_seconds} s for 10 minutes without reaching SQS (gift.outbox.oldest_age_seconds).
    Runbook: ${var.runbook_url}#outbox-not-draining
    ${var.notify}
  EOT
  tags     = concat(local.base, ["service:gift-api"])

  monitor_thresholds {
    critical = local.t.outbox_oldest_age_seconds
  }

  require_full_window = true
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
