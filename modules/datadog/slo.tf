# The three SLOs of docs/requirements.md §8.1, all metric-based (count-based): good events / all events over
# 30 days, from the counters the services send through DogStatsD (docs/observability.md, "Metric
# catalogue"). Metric-based because each SLI is a ratio of events (requests, sends) and
# Datadog computes burn rates from the same counts; a monitor-based SLO would count minutes in
# which a monitor was OK, weighting a quiet night like a busy hour, and a time-slice SLO on p95 would
# judge five-minute slices holding a handful of requests at this project's load.

locals {
  api_scope    = "service:gift-api,env:${var.env}"
  worker_scope = "service:gift-worker,env:${var.env}"
  # Load balancer probes are not user traffic: at a few requests a second they would dominate.
  api_traffic = "${local.api_scope},!operation:healthz,!operation:readyz"
  # The two operations requirement 8.1 puts a latency target on.
  latency_ops = ["create_gift", "send_gift"]

  slo_tags = concat(local.base, ["slo:requirements-8.1"])
}

resource "datadog_service_level_objective" "api_availability" {
  name        = "[gift ${var.env}] API availability"
  type        = "metric"
  description = "Share of API requests not answered 5xx (4xx are the client's mistake and count as good), health probes excluded. gift.api.requests from gift-api."
  tags        = concat(local.slo_tags, ["service:gift-api"])

  query {
    numerator   = "sum:gift.api.requests{${local.api_traffic},!status_class:5xx}.as_count()"
    denominator = "sum:gift.api.requests{${local.api_traffic}}.as_count()"
  }

  thresholds {
    timeframe = "30d"
    target    = var.slo_targets.api_availability
  }

  thresholds {
    timeframe = "7d"
    target    = var.slo_targets.api_availability
  }

  timeframe        = "30d"
  target_threshold = var.slo_targets.api_availability
}

# p95 < 300 ms as a count: 95 % of the requests answered within 300 ms (the fast:true tag the API
# sets from the measured duration). Answers that are 5xx belong to the availability SLO.
resource "datadog_service_level_objective" "api_latency" {
  name        = "[gift ${var.env}] API latency: POST /gifts and /send within 300 ms"
  type        = "metric"
  description = "Share of POST /gifts and POST /gifts/{gift_id}/send requests (non-5xx) answered within 300 ms: the SLO of p95 < 300 ms. gift.api.requests from gift-api, tag fast."
  tags        = concat(local.slo_tags, ["service:gift-api"])

  query {
    numerator   = join(" + ", [for op in local.latency_ops : "sum:gift.api.requests{${local.api_scope},operation:${op},!status_class:5xx,fast:true}.as_count()"])
    denominator = join(" + ", [for op in local.latency_ops : "sum:gift.api.requests{${local.api_scope},operation:${op},!status_class:5xx}.as_count()"])
  }

  thresholds {
    timeframe = "30d"
    target    = var.slo_targets.api_latency
  }

  thresholds {
    timeframe = "7d"
    target    = var.slo_targets.api_latency
  }

  timeframe        = "30d"
  target_threshold = var.slo_targets.api_latency
}

# A send counts once, when the worker finishes it: SENT (fresh:true when within 5 minutes of the
# API accepting it) or FAILED. A send still waiting is not counted yet: the queue-age and outbox
# monitors watch those.
resource "datadog_service_level_objective" "worker_freshness" {
  name        = "[gift ${var.env}] Worker freshness: sends SENT within 5 minutes"
  type        = "metric"
  description = "Share of finished sends that were SENT within 5 minutes of acceptance (FAILED counts as bad). gift.worker.results from gift-worker, tags outcome and fresh."
  tags        = concat(local.slo_tags, ["service:gift-worker"])

  query {
    numerator   = "sum:gift.worker.results{${local.worker_scope},outcome:sent,fresh:true}.as_count()"
    denominator = "sum:gift.worker.results{${local.worker_scope},outcome:sent}.as_count() + sum:gift.worker.results{${local.worker_scope},outcome:failed}.as_count()"
  }

  thresholds {
    timeframe = "30d"
    target    = var.slo_targets.worker_freshness
  }

  thresholds {
    timeframe = "7d"
    target    = var.slo_targets.worker_freshness
  }

  timeframe        = "30d"
  target_threshold = var.slo_targets.worker_freshness
}

# Metrics without Limits: the tags Datadog indexes for queries. The Agent tags every DogStatsD
# point with task_arn (DD_DOGSTATSD_TAG_CARDINALITY=orchestrator, modules/ecs-service: without it the
# counts of two tasks would overwrite each other) and the task definition revision; the points are
# ingested per task and summed into the series of the tags below, so the SLO counters and the
# distributions cost one series per tag combination, not per task and revision. Distributions also
# get global percentiles (across tasks). Gauges keep their task tags: one value per task is what they
# mean (pool size, gate state). gift.api.auth.rejected and gift.api.rate_limited (401s and 429s)
# keep every tag: they are rare, and client has one value per client, tens at most.
locals {
  tag_configurations = {
    "gift.api.requests"            = { type = "count", tags = ["env", "service", "version", "operation", "status_class", "fast"] }
    "gift.api.sends"               = { type = "count", tags = ["env", "service", "version", "result"] }
    "gift.api.gifts.created"       = { type = "count", tags = ["env", "service", "version"] }
    "gift.worker.results"          = { type = "count", tags = ["env", "service", "version", "outcome", "fresh"] }
    "gift.api.request.duration"    = { type = "distribution", tags = ["env", "service", "version", "operation", "status_class"] }
    "gift.worker.attempt.duration" = { type = "distribution", tags = ["env", "service", "version", "outcome"] }
    "gift.worker.send.age"         = { type = "distribution", tags = ["env", "service", "version", "outcome"] }
    "gift.worker.receive_count"    = { type = "distribution", tags = ["env", "service", "version"] }
  }
}

# Needs the metric to exist in Datadog: only the metrics listed in var.metrics_emitted
# (tools/iaccheck, finding needs-emitted-metric, keeps it that way).
resource "datadog_metric_tag_configuration" "durations" {
  for_each = { for name, c in local.tag_configurations : name => c if contains(var.metrics_emitted, name) }

  metric_name         = each.key
  metric_type         = each.value.type
  tags                = each.value.tags
  include_percentiles = each.value.type == "distribution" ? true : null
}
