output "dashboard_url" {
  description = "Path of the overview dashboard in the Datadog app (prefix with the site, for example https://app.datadoghq.com)."
  value       = datadog_dashboard_json.overview.url
}

output "monitor_ids" {
  description = "Monitor IDs by purpose, for the runbook."
  value = merge(
    {
      alb_5xx              = datadog_monitor.alb_5xx.id
      alb_healthy_hosts    = datadog_monitor.alb_healthy_hosts.id
      queue_oldest_message = datadog_monitor.queue_oldest_message.id
      worker_failures      = datadog_monitor.worker_failures.id
      outbox_backlog       = datadog_monitor.outbox_backlog.id
      rds_cpu              = datadog_monitor.rds_cpu.id
    },
    { for k, m in datadog_monitor.ecs_running_below_desired : "ecs_${k}_running_below_desired" => m.id },
  )
}
