# Monitors (docs/observability.md, "Alerts", explains the choice against docs/requirements.md §8.2). Eight
# notify (`${var.notify}` in the message), at most eight by rule (tools/iaccheck counts them):
#   two SLO burn-rate alerts (API availability, worker freshness: page at 14.4x over 1 h / 5 min,
#   warn without notifying at 6x), no healthy API target, 5xx the ALB answers itself, ECS tasks
#   below desired, SQS backlog, worker failure logs (8.2 #6), and AWS metrics no longer arriving.
# Five more are state on the dashboard and notify nobody: the latency burn rate (a weekly SLO
# review item), the DLQ holding messages (each arrival already paged through its ERROR log line),
# the outbox backlog (its OUTBOX_STALE ERROR line pages through the failure-log monitor), many 401
# answers and one client refused with 429 for long (other callers are not hurt by either: see
# their resources below).
#
# Each message links its own section of docs/runbook.md; `make lint` (tools/iaccheck) fails when a
# linked heading does not exist or a monitor links none.
#
# AWS metrics come from the Datadog AWS integration (modules/datadog-aws) and arrive about 10
# minutes late: those monitors wait aws_metric_delay_seconds.

locals {
  t       = var.thresholds
  lb      = lower(var.alb_arn_suffix)
  tg      = lower(var.target_group_arn_suffix)
  ecs     = "clustername:${var.cluster_name}"
  base    = ["app:gift", "env:${var.env}", "managed-by:terraform"]
  awsdely = local.t.aws_metric_delay_seconds

  # burn_rate() query of a 30-day SLO, as Datadog's SLO alert expects it.
  burn_query = "over(\"30d\").long_window(\"1h\").short_window(\"5m\") > ${local.t.burn_rate_fast}"

  # The API's answers to callers without a valid key (401: gift.api.auth.rejected, by error_code)
  # and over their client's rate limit (429: gift.api.rate_limited, by client). Counters of their
  # own, so that the per-request gift.api.requests carries no per-client tag (docs/observability.md).
  api_auth_scope = "service:gift-api,env:${var.env}"

  # A warning shows on the dashboard and in the monitor's state; only the alert (and its recovery)
  # notifies.
  notify_on_alert = "{{#is_alert}}${var.notify}{{/is_alert}}{{#is_alert_recovery}}${var.notify}{{/is_alert_recovery}}"
}

# --- SLO burn rates: the SRE workbook's fast window pages, a lower rate over the same windows warns --

resource "datadog_monitor" "api_availability_burn" {
  name     = "[gift ${var.env}] API availability: error budget burning"
  type     = "slo alert"
  priority = 1
  query    = "burn_rate(\"${datadog_service_level_objective.api_availability.id}\").${local.burn_query}"
  message  = <<-EOT
    {{#is_alert}}The API answers 5xx at ${local.t.burn_rate_fast}x the rate its ${var.slo_targets.api_availability} % SLO allows (over 1 h, still true over the last 5 min): 2 % of the 30-day budget gone in an hour.{{/is_alert}}
    {{#is_warning}}The API answers 5xx at ${local.t.burn_rate_slow}x the rate its SLO allows over the last hour: a leak, not an outage (no notification; see the 7-day budget on the dashboard).{{/is_warning}}
    Runbook: ${var.runbook_url}#api-availability-error-budget-burning
    ${local.notify_on_alert}
  EOT
  tags     = concat(local.base, ["service:gift-api"])

  monitor_thresholds {
    critical = local.t.burn_rate_fast
    warning  = local.t.burn_rate_slow
  }
}

resource "datadog_monitor" "worker_freshness_burn" {
  name     = "[gift ${var.env}] Worker freshness: sends late or failing"
  type     = "slo alert"
  priority = 1
  query    = "burn_rate(\"${datadog_service_level_objective.worker_freshness.id}\").${local.burn_query}"
  message  = <<-EOT
    {{#is_alert}}Finished sends miss "SENT within 5 minutes" at ${local.t.burn_rate_fast}x the rate the ${var.slo_targets.worker_freshness} % SLO allows (over 1 h, still true over the last 5 min).{{/is_alert}}
    {{#is_warning}}Finished sends miss "SENT within 5 minutes" at ${local.t.burn_rate_slow}x the rate the SLO allows over the last hour (no notification).{{/is_warning}}
    Runbook: ${var.runbook_url}#worker-freshness-error-budget-burning
    ${local.notify_on_alert}
  EOT
  tags     = concat(local.base, ["service:gift-worker"])

  monitor_thresholds {
    critical = local.t.burn_rate_fast
    warning  = local.t.burn_rate_slow
  }
}

# Dashboard state, no notification: the latency target is provisional (low load), and a sudden
# collapse (timeouts, database down) shows up as 5xx, which the availability alert pages on.
resource "datadog_monitor" "api_latency_burn" {
  name     = "[gift ${var.env}] API latency: POST /gifts and /send slower than 300 ms"
  type     = "slo alert"
  priority = 4
  query    = "burn_rate(\"${datadog_service_level_objective.api_latency.id}\").over(\"30d\").long_window(\"6h\").short_window(\"30m\") > ${local.t.burn_rate_slow}"
  message  = <<-EOT
    POST /gifts and /send miss 300 ms at ${local.t.burn_rate_slow}x the rate the p95 SLO allows (over 6 h, still true over the last 30 min). Notifies nobody: reviewed with the SLOs each week.
    Runbook: ${var.runbook_url}#api-latency-error-budget-burning
  EOT
  tags     = concat(local.base, ["service:gift-api"])

  monitor_thresholds {
    critical = local.t.burn_rate_slow
  }
}

# --- What the SLOs cannot see, or not in time ------------------------------------------------------

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

# 502/503/504 the load balancer answers itself (no target, a target that reset the connection or
# timed out): the API never sees these requests, so its availability SLO cannot count them.
# CloudWatch sends the metric only when it is not zero, so missing data is the normal, quiet state.
resource "datadog_monitor" "alb_5xx" {
  name     = "[gift ${var.env}] ALB answers 5xx itself (502/503/504)"
  type     = "query alert"
  priority = 2
  query    = "sum(last_10m):sum:aws.applicationelb.httpcode_elb_5xx{loadbalancer:${local.lb}}.as_count() > ${local.t.alb_5xx_above}"
  message  = <<-EOT
    The load balancer answered more than ${local.t.alb_5xx_above} requests with its own 5xx in 10 minutes (HTTPCode_ELB_5XX_Count): requests that never reached a healthy API task.
    Runbook: ${var.runbook_url}#alb-5xx--api-errors
    ${var.notify}
  EOT
  tags     = concat(local.base, ["service:gift-api"])

  monitor_thresholds {
    critical = local.t.alb_5xx_above
  }

  evaluation_delay    = local.awsdely
  require_full_window = false
  notify_no_data      = false
}

# running < desired, sustained: tasks crash-loop, fail health checks or cannot be placed. One
# multi-alert monitor: it alerts separately for each service of the cluster, the API and the worker
# (docs/requirements.md §8.2 #3 and #4; one-off migration tasks are not services).
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

# Requirements 8.2 #6, log-based. The worker logs a failed attempt at WARN (SEND_ATTEMPT_FAILED: the
# pseudo send fails 20 % of attempts by design, SQS retries it) and at ERROR only what will not
# resolve itself: SEND_FAILED_FINAL, MESSAGE_INVALID, GIFT_UNKNOWN (each one a message bound for the
# DLQ), PROCESSING_FAILED, HEALTH_ENDPOINT_FAILED, CONFIG_INVALID, STARTUP_FAILED. The API's
# OUTBOX_STALE (accepted sends that have not reached SQS for OUTBOX_STALE_AFTER) is the same kind of
# failure, a send that will not arrive, seen from the other side of the queue. One ERROR line pages.
resource "datadog_monitor" "worker_failure_logs" {
  name     = "[gift ${var.env}] Sends failing: worker ERROR logs or a stale outbox"
  type     = "log alert"
  priority = 2
  query    = "logs(\"env:${var.env} ((service:gift-worker status:error) OR (service:gift-api @error_code:OUTBOX_STALE))\").index(\"*\").rollup(\"count\").last(\"${local.t.failure_log_window}\") > ${local.t.failure_logs_above}"
  message  = <<-EOT
    More than ${local.t.failure_logs_above} ERROR lines in ${local.t.failure_log_window} of gift-worker, or OUTBOX_STALE from gift-api: sends that will not arrive without help (bound for the DLQ, unprocessable, or stuck in the outbox). The sample below names the error_code.
    Runbook: ${var.runbook_url}#worker-failure-logs
    ${var.notify}
  EOT
  tags     = concat(local.base, ["service:gift-worker"])

  monitor_thresholds {
    critical = local.t.failure_logs_above
  }

  enable_logs_sample = true
  notify_no_data     = false
}

# The canary: metrics every AWS resource of the stack reports all the time (healthy targets of the
# target group, desired tasks of the cluster, database CPU), summed so that any one missing leaves
# no value. The threshold can never be crossed (all three are >= 0): the monitor exists for its
# no-data notification, which fires when the AWS integration, its role or a namespace filter
# stops delivering, and with it the ALB, ECS and SQS monitors above would sit silent in No Data.
resource "datadog_monitor" "aws_metrics_missing" {
  name     = "[gift ${var.env}] AWS metrics stopped arriving"
  type     = "query alert"
  priority = 2
  query    = "max(last_30m):max:aws.applicationelb.healthy_host_count{targetgroup:${local.tg}} + max:aws.ecs.service.desired{${local.ecs}} + max:aws.rds.cpuutilization{dbinstanceidentifier:${var.rds_identifier}} < 0"
  message  = <<-EOT
    No ALB, ECS or RDS metric of ${var.env} has reached Datadog for ${local.t.aws_no_data_minutes} minutes: the AWS integration is broken, so the ALB, ECS and SQS monitors cannot fire.
    Runbook: ${var.runbook_url}#aws-metrics-stopped-arriving
    ${var.notify}
  EOT
  tags     = local.base

  monitor_thresholds {
    critical = 0
  }

  evaluation_delay    = local.awsdely
  require_full_window = false
  notify_no_data      = true
  no_data_timeframe   = local.t.aws_no_data_minutes
}

# Dashboard state, no notification: docs/requirements.md §8.1 "DLQ 0 per day". Visible + in flight (a message
# the DLQ reconciler or an operator is reading is not visible, but still in the DLQ). Stays red until
# the DLQ is emptied; each message that arrived already paged through its ERROR line
# (worker_failure_logs).
resource "datadog_monitor" "dlq_not_empty" {
  name     = "[gift ${var.env}] DLQ not empty"
  type     = "query alert"
  priority = 3
  query    = "max(last_5m):max:aws.sqs.approximate_number_of_messages_visible{queuename:${var.dlq_name}} + max:aws.sqs.approximate_number_of_messages_not_visible{queuename:${var.dlq_name}} > ${local.t.dlq_messages_above}"
  message  = <<-EOT
    ${var.dlq_name} holds messages: gifts that FAILED for good, or messages the worker could not use (MESSAGE_INVALID, GIFT_UNKNOWN). Notifies nobody (the failure-log monitor paged when each arrived); red on the dashboard until the DLQ is emptied after the investigation.
    Runbook: ${var.runbook_url}#worker-failures-and-the-dlq
  EOT
  tags     = concat(local.base, ["service:gift-worker"])

  monitor_thresholds {
    critical = local.t.dlq_messages_above
  }

  evaluation_delay    = local.awsdely
  require_full_window = false
  notify_no_data      = false
}

# Dashboard state, no notification: accepted sends that never reach SQS are invisible to every queue
# metric and to the freshness SLO; the API's OUTBOX_STALE ERROR line pages (worker_failure_logs).
resource "datadog_monitor" "outbox_backlog" {
  name     = "[gift ${var.env}] Outbox not draining to SQS"
  type     = "query alert"
  priority = 3
  query    = "min(last_10m):max:gift.outbox.oldest_age_seconds{${local.api_scope}} > ${local.t.outbox_oldest_age_seconds}"
  message  = <<-EOT
    Accepted sends have waited more than ${local.t.outbox_oldest_age_seconds} s for 10 minutes without reaching SQS (gift.outbox.oldest_age_seconds). Notifies nobody: the API's OUTBOX_STALE log line pages.
    Runbook: ${var.runbook_url}#outbox-not-draining
  EOT
  tags     = concat(local.base, ["service:gift-api"])

  monitor_thresholds {
    critical = local.t.outbox_oldest_age_seconds
  }

  require_full_window = true
  notify_no_data      = false
}

# --- Authentication and rate limits (API 2.0): dashboard state, no notification -------------------

# Dashboard state, no notification: 401s hurt only the caller that gets them. A client that lost or
# mistyped its key, or still uses a revoked one after a rotation, fails alone (its own support
# ticket); guessing keys is hopeless (256 random bits each) and costs the API only load, which the
# availability and latency SLOs see if it ever matters. A count rather than a share of all
# requests: at night a handful of requests would make any share look alarming. The default, 300 in
# 10 minutes, is 0.5 per second sustained: far above a developer trying curl without a key, well
# below a client whose every call fails at its normal rate.
resource "datadog_monitor" "api_unauthenticated" {
  name     = "[gift ${var.env}] API answers many 401s (no key, unknown or revoked key)"
  type     = "query alert"
  priority = 3
  query    = "sum(last_10m):sum:gift.api.auth.rejected{${local.api_auth_scope}}.as_count() > ${local.t.unauthenticated_above}"
  message  = <<-EOT
    More than ${local.t.unauthenticated_above} requests in 10 minutes were answered 401 (error_code UNAUTHENTICATED: no bearer key; API_KEY_INVALID: a key the API does not know, or a revoked one): a client misconfigured or left on a revoked key, a leaked key tried after its revocation, or someone guessing keys. Notifies nobody: only the callers without a valid key are refused; the SLOs see any load it causes.
    Runbook: ${var.runbook_url}#many-401s
  EOT
  tags     = concat(local.base, ["service:gift-api"])

  monitor_thresholds {
    critical = local.t.unauthenticated_above
  }

  require_full_window = false
  notify_no_data      = false
}

# Dashboard state, no notification, one group per client (multi-alert by client): the rate limiter
# refusing a client's excess is its job, and protects the other clients. Red when a client has had
# more than rate_limited_per_minute requests refused in every minute of rate_limited_minutes: not
# a burst, but a client that runs above its limit (its limit too low for what it was promised, or
# retries that ignore Retry-After). Per minute (rollup sum 60) so that a minute without a 429
# counts as 0 (default_zero) and breaks the streak. A count, not a share of the client's requests:
# the API counts requests per client only when it refuses them (no client tag on every request).
resource "datadog_monitor" "client_rate_limited" {
  name     = "[gift ${var.env}] Client {{client.name}}: requests refused with 429 for ${local.t.rate_limited_minutes} minutes"
  type     = "query alert"
  priority = 3
  query    = "min(last_${local.t.rate_limited_minutes}m):default_zero(sum:gift.api.rate_limited{${local.api_auth_scope}} by {client}.as_count().rollup(sum, 60)) > ${local.t.rate_limited_per_minute}"
  message  = <<-EOT
    Client {{client.name}} has had more than ${local.t.rate_limited_per_minute} requests a minute refused with 429 (error_code RATE_LIMITED) in every minute for ${local.t.rate_limited_minutes} minutes: it runs above its rate limit. Notifies nobody: the limiter protects the other clients; whether this client needs a higher limit or must slow down is a working-hours decision.
    Runbook: ${var.runbook_url}#one-client-refused-with-429
  EOT
  tags     = concat(local.base, ["service:gift-api"])

  monitor_thresholds {
    critical = local.t.rate_limited_per_minute
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
