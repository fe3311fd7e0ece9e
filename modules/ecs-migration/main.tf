# A task definition only, no service: CI runs it once per deploy with
#   aws ecs run-task --task-definition NAME_PREFIX-migrate:REV ...
# before updating the services, waits for it to stop and fails the deploy unless it exited 0
# (docs/deploy.md). It has no Datadog sidecar: it runs for seconds, and its logs go straight to
# CloudWatch (awslogs), where the deploy job points to them.

data "aws_caller_identity" "current" {}

data "aws_region" "current" {}

data "aws_partition" "current" {}

locals {
  name = "${var.name_prefix}-migrate"
}

resource "aws_ecs_task_definition" "this" {
  family                   = local.name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = 256
  memory                   = 512
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  container_definitions = jsonencode([{
    name                   = "app"
    image                  = "${var.image_repository_url}:${var.image_tag}"
    essential              = true
    readonlyRootFilesystem = true
    command                = ["migrate"]
    environment            = [for k in sort(keys(var.environment)) : { name = k, value = var.environment[k] }]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = var.log_group_name
        awslogs-region        = split(":", var.log_group_arn)[3]
        awslogs-stream-prefix = "migrate"
      }
    }
  }])
}

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
  description        = "ECS execution role of the migration task: image pull and logs"
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
    sid       = "PullApiImage"
    actions   = ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"]
    resources = [var.image_repository_arn]
  }

  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${var.log_group_arn}:*"]
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "execution"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

resource "aws_iam_role" "task" {
  name               = "${local.name}-task"
  description        = "ECS task role of the migration task (and of giftctl run on it): the DB master secret, connect as gift_operator and the queues when set"
  assume_role_policy = data.aws_iam_policy_document.assume_ecs_tasks.json
}

data "aws_iam_policy_document" "task" {
  statement {
    sid       = "DbSecret"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [var.db_secret_arn]
  }

  # giftctl connects as gift_operator (DB_AUTH=iam, DB_USER=gift_operator as container overrides):
  # that user only, on this instance only.
  dynamic "statement" {
    for_each = var.operator_db_connect == null ? [] : [1]
    content {
      sid       = "OperatorDbConnect"
      actions   = ["rds-db:connect"]
      resources = ["arn:${data.aws_partition.current.partition}:rds-db:${data.aws_region.current.region}:${data.aws_caller_identity.current.account_id}:dbuser:${var.operator_db_connect.resource_id}/${var.operator_db_connect.user}"]
    }
  }

  # giftctl status reads the queue's depth and RedrivePolicy; dlq redrive moves messages back.
  dynamic "statement" {
    for_each = var.ops_queues == null ? [] : [1]
    content {
      sid       = "OpsSendQueue"
      actions   = ["sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage"]
      resources = [var.ops_queues.queue_arn]
    }
  }

  # giftctl dlq list / retry / redrive look at DLQ messages (and release them at once) and delete
  # the ones they have settled.
  dynamic "statement" {
    for_each = var.ops_queues == null ? [] : [1]
    content {
      sid       = "OpsDeadLetterQueue"
      actions   = ["sqs:ReceiveMessage", "sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"]
      resources = [var.ops_queues.dlq_arn]
    }
  }
}

resource "aws_iam_role_policy" "task" {
  name   = "task"
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.task.json
}
