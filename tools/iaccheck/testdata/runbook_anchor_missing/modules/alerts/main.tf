variable "runbook_url" {
  type = string
}

resource "datadog_monitor" "tasks" {
  name    = "tasks missing"
  type    = "query alert"
  query   = "avg(last_5m):avg:aws.ecs.service.running{*} < 1"
  message = "Tasks are missing. Runbook: ${var.runbook_url}#ecs-running-desired"
}

resource "datadog_monitor" "backlog" {
  name    = "backlog"
  type    = "query alert"
  query   = "max(last_5m):max:aws.sqs.approximate_age_of_oldest_message{*} > 300"
  message = <<-EOT
    The queue is backing up.
    Runbook: ${var.runbook_url}#queue-backlog-1
  EOT
}
