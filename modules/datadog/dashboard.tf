# One dashboard. Free layout: the monitor summary (manage_status) and log stream widgets are only
# documented for free-layout dashboards (Datadog API, MonitorSummaryWidgetDefinition and
# LogStreamWidgetDefinition), and a free layout needs a position on every widget.
#
# Top: the three SLOs with their remaining error budget, then the monitors, then graphs in the
# runbook's triage order (API -> ALB -> ECS -> DB -> queue and worker), then the error logs.

locals {
  col_w    = 32 # three columns
  graph_h  = 16
  graphs_y = 2 * local.graph_h

  graphs = [
    { title = "API requests by status class (app)", requests = [
      { q = "sum:gift.api.requests{${local.api_traffic}} by {status_class}.as_count()", display = "bars" },
    ] },
    { title = "API latency p95 by operation (s)", requests = [
      { q = "p95:gift.api.request.duration{${local.api_traffic}} by {operation}", display = "line" },
    ] },
    { title = "401 rate by error code (no key, unknown or revoked key)", requests = [
      { q = "sum:gift.api.auth.rejected{${local.api_auth_scope}} by {error_code}.as_count()", display = "bars" },
    ] },
    { title = "429 rate by client (over its rate limit)", requests = [
      { q = "sum:gift.api.rate_limited{${local.api_auth_scope}} by {client}.as_count()", display = "bars" },
    ] },
    { title = "ALB requests, ELB 5xx and target 5xx", requests = [
      { q = "sum:aws.applicationelb.request_count{loadbalancer:${local.lb}}.as_count()", display = "bars" },
      { q = "sum:aws.applicationelb.httpcode_elb_5xx{loadbalancer:${local.lb}}.as_count()", display = "bars" },
      { q = "sum:aws.applicationelb.httpcode_target_5xx{loadbalancer:${local.lb}}.as_count()", display = "bars" },
    ] },
    { title = "ALB target response time p95 (s)", requests = [
      { q = "avg:aws.applicationelb.target_response_time.p95{loadbalancer:${local.lb}}", display = "line" },
    ] },
    { title = "Healthy API targets", requests = [
      { q = "min:aws.applicationelb.healthy_host_count{targetgroup:${local.tg}}", display = "line" },
    ] },
    { title = "ECS tasks: running vs desired", requests = [
      { q = "avg:aws.ecs.service.running{${local.ecs}} by {servicename}", display = "line" },
      { q = "avg:aws.ecs.service.desired{${local.ecs}} by {servicename}", display = "line" },
    ] },
    { title = "Task CPU % by service", requests = [
      { q = "avg:ecs.fargate.cpu.percent{env:${var.env}} by {service}", display = "line" },
    ] },
    { title = "RDS CPU % and connections", requests = [
      { q = "avg:aws.rds.cpuutilization{dbinstanceidentifier:${var.rds_identifier}}", display = "line" },
      { q = "avg:aws.rds.database_connections{dbinstanceidentifier:${var.rds_identifier}}", display = "line" },
    ] },
    { title = "DB pool: acquired, idle, acquires that waited", requests = [
      { q = "sum:gift.db.pool.acquired{env:${var.env}} by {service}", display = "line" },
      { q = "sum:gift.db.pool.idle{env:${var.env}} by {service}", display = "line" },
      { q = "sum:gift.db.pool.waited{env:${var.env}} by {service}.as_count()", display = "bars" },
    ] },
    { title = "Outbox: pending and oldest age (s)", requests = [
      { q = "max:gift.outbox.pending{${local.api_scope}}", display = "line" },
      { q = "max:gift.outbox.oldest_age_seconds{${local.api_scope}}", display = "line" },
    ] },
    { title = "Queue depth: main and DLQ", requests = [
      { q = "max:aws.sqs.approximate_number_of_messages_visible{queuename:${var.queue_name}}", display = "line" },
      { q = "max:aws.sqs.approximate_number_of_messages_visible{queuename:${var.dlq_name}} + max:aws.sqs.approximate_number_of_messages_not_visible{queuename:${var.dlq_name}}", display = "bars" },
    ] },
    { title = "Oldest message age (s)", requests = [
      { q = "max:aws.sqs.approximate_age_of_oldest_message{queuename:${var.queue_name}}", display = "line" },
    ] },
    { title = "Worker results by outcome", requests = [
      { q = "sum:gift.worker.results{${local.worker_scope}} by {outcome}.as_count()", display = "bars" },
    ] },
    { title = "Send age at SENT p95 and attempt duration p95 (s)", requests = [
      { q = "p95:gift.worker.send.age{${local.worker_scope},outcome:sent}", display = "line" },
      { q = "p95:gift.worker.attempt.duration{${local.worker_scope}} by {outcome}", display = "line" },
    ] },
    { title = "Worker database gate open (1) or closed (0)", requests = [
      { q = "min:gift.worker.gate.open{${local.worker_scope}}", display = "line" },
    ] },
  ]

  slo_widgets = [
    { title = "API availability (non-5xx)", id = datadog_service_level_objective.api_availability.id },
    { title = "API latency: POST /gifts, /send within 300 ms", id = datadog_service_level_objective.api_latency.id },
    { title = "Worker: sends SENT within 5 minutes", id = datadog_service_level_objective.worker_freshness.id },
  ]
}

resource "datadog_dashboard" "overview" {
  title       = "Gift ${var.env}: SLOs, API, worker, database, queue"
  description = "Start here (docs/runbook.md). Managed by Terraform: edit modules/datadog, not the UI."
  layout_type = "free"

  # Row 1: the SLOs and their remaining error budget (30 and 7 days).
  dynamic "widget" {
    for_each = local.slo_widgets
    content {
      widget_layout {
        x      = widget.key * local.col_w
        y      = 0
        width  = local.col_w
        height = local.graph_h
      }
      service_level_objective_definition {
        title             = widget.value.title
        slo_id            = widget.value.id
        view_type         = "detail"
        view_mode         = "overall"
        time_windows      = ["30d", "7d"]
        show_error_budget = true
      }
    }
  }

  # Row 2: every monitor of this app and environment, firing ones first.
  widget {
    widget_layout {
      x      = 0
      y      = local.graph_h
      width  = 3 * local.col_w
      height = local.graph_h
    }
    manage_status_definition {
      title               = "Monitors"
      query               = "tag:app:gift tag:env:${var.env}"
      summary_type        = "monitors"
      display_format      = "countsAndList"
      sort                = "status,asc"
      show_last_triggered = true
      show_priority       = true
    }
  }

  # Graphs, three a row, in triage order.
  dynamic "widget" {
    for_each = local.graphs
    content {
      widget_layout {
        x      = (widget.key % 3) * local.col_w
        y      = local.graphs_y + floor(widget.key / 3) * local.graph_h
        width  = local.col_w
        height = local.graph_h
      }
      timeseries_definition {
        title       = widget.value.title
        show_legend = true
        dynamic "request" {
          for_each = widget.value.requests
          content {
            q            = request.value.q
            display_type = request.value.display
          }
        }
      }
    }
  }

  # Last: the error lines of both services, with the fields that lead to a trace or a send.
  widget {
    widget_layout {
      x      = 0
      y      = local.graphs_y + ceil(length(local.graphs) / 3) * local.graph_h
      width  = 3 * local.col_w
      height = 2 * local.graph_h
    }
    log_stream_definition {
      title               = "Worker and API errors"
      query               = "service:(gift-api OR gift-worker) env:${var.env} status:error"
      columns             = ["service", "@error_code", "@gift_id", "@request_id", "@dd.trace_id", "@error_message"]
      indexes             = []
      show_date_column    = true
      show_message_column = true
      message_display     = "expanded-md"
      sort {
        column = "time"
        order  = "desc"
      }
    }
  }
}
