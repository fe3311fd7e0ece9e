# Two roles per service (docs/requirements.md §8.4):
#   execution role: what ECS itself needs to start the task (pull the image, write the sidecars'
#                   logs, inject the Datadog API key);
#   task role:      what the running containers call (the queue, rds-db:connect as the service's
#                   own database user, and the log router's S3 config read and CloudWatch copy).

data "aws_iam_policy_document" "assume_ecs_tasks" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "execution" {
  name               = "${local.name}-execution"
  description        = "ECS execution role of ${local.name}: image pull, sidecar logs, Datadog API key"
  assume_role_policy = data.aws_iam_policy_document.assume_ecs_tasks.json
}

# ecr:GetAuthorizationToken has no resource-level permissions: AWS requires "*" for it.
data "aws_iam_policy_document" "execution" {
  statement {
    sid       = "EcrAuth"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid       = "PullAppImage"
    actions   = ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"]
    resources = [var.image_repository_arn]
  }

  statement {
    sid       = "SidecarLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${var.log_group_arn}:*"]
  }

  statement {
    sid       = "DatadogApiKey"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [var.datadog_api_key_secret_arn]
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "execution"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

resource "aws_iam_role" "task" {
  name               = "${local.name}-task"
  description        = "ECS task role of ${local.name}: queue access, database connect as ${var.db_user}, log copy"
  assume_role_policy = data.aws_iam_policy_document.assume_ecs_tasks.json
}

locals {
  sqs_actions = {
    send    = ["sqs:SendMessage"]
    consume = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"]
  }
}

data "aws_iam_policy_document" "task" {
  statement {
    sid       = "Queue"
    actions   = local.sqs_actions[var.sqs_access]
    resources = [var.sqs_queue_arn]
  }

  dynamic "statement" {
    for_each = var.sqs_dlq_arn == null ? [] : [1]
    content {
      sid       = "DeadLetterQueue"
      actions   = ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
      resources = [var.sqs_dlq_arn]
    }
  }

  # IAM database authentication as the service's own database user, on this instance only: no
  # wildcard in the resource id or the user (tools/iaccheck fails a wildcard and another
  # service's user).
  statement {
    sid       = "DbConnect"
    actions   = ["rds-db:connect"]
    resources = ["arn:${data.aws_partition.current.partition}:rds-db:${data.aws_region.current.region}:${data.aws_caller_identity.current.account_id}:dbuser:${var.db_resource_id}/${var.db_user}"]
  }

  statement {
    sid       = "LogRouterConfig"
    actions   = ["s3:GetObject"]
    resources = [var.firelens_config_object_arn]
  }

  statement {
    sid       = "LogRouterConfigBucket"
    actions   = ["s3:GetBucketLocation"]
    resources = [var.firelens_config_bucket_arn]
  }

  statement {
    sid       = "LogRouterCloudWatchCopy"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${var.log_group_arn}:*"]
  }
}

resource "aws_iam_role_policy" "task" {
  name   = "task"
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.task.json
}
