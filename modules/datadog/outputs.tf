output "dashboard_url" {
  description = "Path of the overview dashboard in the Datadog app (prefix with the site, for example https://app.datadoghq.com)."
  value       = datadog_dashboard.overview.url
}

output "slo_ids" {
  description = "SLO IDs by name (the SLO widgets and the burn-rate monitors use them)."
  value = {
    api_availability = datadog_service_level_objective.api_availability.id
    api_latency      = datadog_service_level_objective.api_latency.id
    worker_freshness = datadog_service_level_objective.worker_freshness.id
  }
}

output "monitor_ids" {
  description = "Monitor IDs by purpose, for the runbook."
  value = {
    api_availability_burn     = datadog_monitor.api_availability_burn.id
    worker_freshness_burn     = datadog_monitor.worker_freshness_burn.id
    api_latency_burn          = datadog_monitor.api_latency_burn.id
    alb_healthy_hosts         = datadog_monitor.alb_healthy_hosts.id
    alb_5xx                   = datadog_monitor.alb_5xx.id
    ecs_running_below_desired = datadog_monitor.ecs_running_below_desired.id
    queue_oldest_message      = datadog_monitor.queue_oldest_message.id
    worker_failure_logs       = datadog_monitor.worker_failure_logs.id
    aws_metrics_missing       = datadog_monitor.aws_metrics_missing.id
    dlq_not_empty             = datadog_monitor.dlq_not_empty.id
    outbox_backlog            = datadog_monitor.outbox_backlog.id
    api_unauthenticated       = datadog_monitor.api_unauthenticated.id
    client_rate_limited       = datadog_monitor.client_rate_limited.id
  }
}

output "tag_configured_metrics" {
  description = "Metrics that have a tag configuration now: the intersection of slo.tf's tag_configurations and metrics_emitted."
  value       = sort(keys(datadog_metric_tag_configuration.durations))
}
