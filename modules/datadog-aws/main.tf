# The Datadog AWS integration of this account, as code: without it the ALB, ECS, SQS and RDS
# metrics the monitors of modules/datadog read never arrive, and those monitors sit in "No Data".
#
# Datadog's documented setup (The AWS Integration with Terraform): the integration account names a
# role; Datadog generates an external ID for it; the role trusts Datadog's AWS account with that
# external ID. The role name is a string here (not a reference), so the account is created first
# and the role's trust policy reads the external ID from it: no cycle.
#
# Metrics only, from the four namespaces the monitors and the dashboard use; no log forwarding, no
# traces, no resource collection (CSPM). The policy grants what metric collection of those
# namespaces needs, not Datadog's full list (every AWS service it knows).

data "aws_caller_identity" "current" {}

locals {
  role_name  = "${var.name_prefix}-datadog-integration"
  namespaces = ["AWS/ApplicationELB", "AWS/ECS", "AWS/SQS", "AWS/RDS"]
}

resource "datadog_integration_aws_account" "this" {
  aws_account_id = data.aws_caller_identity.current.account_id
  aws_partition  = "aws"
  account_tags   = ["env:${var.env}", "app:gift"]

  aws_regions {
    include_only = var.regions
  }

  auth_config {
    aws_auth_config_role {
      role_name = local.role_name
    }
  }

  metrics_config {
    automute_enabled          = true # mute host monitors of stopped EC2 instances (none here)
    collect_cloudwatch_alarms = false
    collect_custom_metrics    = false

    namespace_filters {
      include_only = local.namespaces
    }
  }

  logs_config {
    lambda_forwarder {}
  }

  resources_config {
    cloud_security_posture_management_collection = false
    extended_collection                          = false
  }

  traces_config {
    xray_services {
      include_only = []
    }
  }
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::${var.datadog_aws_account_id}:root"]
    }

    condition {
      test     = "StringEquals"
      variable = "sts:ExternalId"
      values   = [datadog_integration_aws_account.this.auth_config.aws_auth_config_role.external_id]
    }
  }
}

resource "aws_iam_role" "datadog" {
  name               = local.role_name
  description        = "Datadog AWS integration (${var.env}): reads CloudWatch metrics of ApplicationELB, ECS, SQS and RDS"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

# Read-only, and only what metric collection of the four namespaces needs: CloudWatch metrics, the
# resource tags Datadog attaches to them, and the describe/list calls it uses to name resources.
# Datadog's AWS API does not take resource-level permissions for these: "*".
data "aws_iam_policy_document" "datadog" {
  statement {
    sid = "Metrics"
    actions = [
      "cloudwatch:GetMetricData",
      "cloudwatch:GetMetricStatistics",
      "cloudwatch:ListMetrics",
      "tag:GetResources",
      "tag:GetTagKeys",
      "tag:GetTagValues",
    ]
    resources = ["*"]
  }

  statement {
    sid = "Namespaces"
    actions = [
      "ec2:DescribeRegions",
      "ecs:Describe*",
      "ecs:List*",
      "elasticloadbalancing:Describe*",
      "rds:Describe*",
      "rds:ListTagsForResource",
      "sqs:GetQueueAttributes",
      "sqs:ListQueueTags",
      "sqs:ListQueues",
    ]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "datadog" {
  name   = "metrics-read"
  role   = aws_iam_role.datadog.id
  policy = data.aws_iam_policy_document.datadog.json
}
