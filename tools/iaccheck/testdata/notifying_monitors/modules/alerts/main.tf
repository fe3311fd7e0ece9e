variable "runbook_url" {
  type = string
}

variable "notify" {
  type = string
}

variable "metrics_emitted" {
  type    = set(string)
  default = []
}

locals {
  on_alert = "{{#is_alert}}${var.notify}{{/is_alert}}"
}

resource "datadog_monitor" "tasks" {
  name    = "tasks missing"
  type    = "query alert"
  query   = "avg(last_5m):avg:aws.ecs.service.running{*} < 1"
  message = "Tasks are missing. Runbook: ${var.runbook_url}#ecs-running--desired ${var.notify}"
}

resource "datadog_monitor" "backlog" {
  name    = "backlog"
  type    = "query alert"
  query   = "max(last_5m):max:aws.sqs.approximate_age_of_oldest_message{*} > 300"
  message = <<-EOT
    The queue is backing up.
    Runbook: ${var.runbook_url}#queue-backlog-1
    ${local.on_alert}
  EOT
}

resource "datadog_metric_tag_configuration" "durations" {
  for_each = { for m in ["app.duration"] : m => m if contains(var.metrics_emitted, m) }

  metric_name         = each.key
  metric_type         = "distribution"
  tags                = ["env"]
  include_percentiles = true
}

# The mistake: seven more monitors that notify, nine in all.

resource "datadog_monitor" "extra_0" {
  name    = "extra 0"
  type    = "query alert"
  query   = "avg(last_5m):avg:aws.ecs.service.running{*} < 0"
  message = "Runbook: ${var.runbook_url}#queue-backlog ${local.on_alert}"
}

resource "datadog_monitor" "extra_1" {
  name    = "extra 1"
  type    = "query alert"
  query   = "avg(last_5m):avg:aws.ecs.service.running{*} < 1"
  message = "Runbook: ${var.runbook_url}#queue-backlog ${local.on_alert}"
}

resource "datadog_monitor" "extra_2" {
  name    = "extra 2"
  type    = "query alert"
  query   = "avg(last_5m):avg:aws.ecs.service.running{*} < 2"
  message = "Runbook: ${var.runbook_url}#queue-backlog ${local.on_alert}"
}

resource "datadog_monitor" "extra_3" {
  name    = "extra 3"
  type    = "query alert"
  query   = "avg(last_5m):avg:aws.ecs.service.running{*} < 3"
  message = "Runbook: ${var.runbook_url}#queue-backlog ${local.on_alert}"
}

resource "datadog_monitor" "extra_4" {
  name    = "extra 4"
  type    = "query alert"
  query   = "avg(last_5m):avg:aws.ecs.service.running{*} < 4"
  message = "Runbook: ${var.runbook_url}#queue-backlog ${local.on_alert}"
}

resource "datadog_monitor" "extra_5" {
  name    = "extra 5"
  type    = "query alert"
  query   = "avg(last_5m):avg:aws.ecs.service.running{*} < 5"
  message = "Runbook: ${var.runbook_url}#queue-backlog ${local.on_alert}"
}

resource "datadog_monitor" "extra_6" {
  name    = "extra 6"
  type    = "query alert"
  query   = "avg(last_5m):avg:aws.ecs.service.running{*} < 6"
  message = "Runbook: ${var.runbook_url}#queue-backlog ${local.on_alert}"
}
