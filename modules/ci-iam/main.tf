# GitHub Actions authenticates with OIDC: no long-lived AWS keys in GitHub.
#   deploy role: assumed by deploy.yml jobs running in the GitHub environment var.github_environment
#                (deployment branch rule: main only); may do exactly what deploy.yml does.
#   plan role:   assumed by pr.yml's plan job running in the GitHub environment
#                var.github_plan_environment (prod: required reviewers); reads what a plan refreshes
#                (plan_read below) and the state, and writes only the S3 lock file of a plan. Not
#                the subject repo:OWNER/NAME:pull_request, which any branch of the repository (with
#                an edited pr.yml) would get.
# One OIDC provider per AWS account: dev and prod are separate accounts (allowed_account_ids). An
# account that already trusts GitHub passes its provider's ARN (github_oidc_provider_arn) instead.

locals {
  region        = split(":", var.ecs_cluster_arn)[3]
  account_id    = split(":", var.ecs_cluster_arn)[4]
  cluster_name  = split("/", var.ecs_cluster_arn)[1]
  oidc_host     = "token.actions.githubusercontent.com"
  migration_tds = "arn:aws:ecs:${local.region}:${local.account_id}:task-definition/${var.migration_task_family}:*"

  # Each role trusts its GitHub environment in the two subject forms GitHub issues while it
  # migrates repositories to immutable subject claims (README.md, "Subject claims"): by name only,
  # and with the owner's and the repository's numeric ids appended with "@". Both exact: no
  # wildcard stands for an id (tools/iaccheck accepts no other form).
  owner     = split("/", var.github_repository)[0]
  repo_name = split("/", var.github_repository)[1]
  deploy_subs = [
    "repo:${local.owner}/${local.repo_name}:environment:${var.github_environment}",
    "repo:${local.owner}@${var.github_owner_id}/${local.repo_name}@${var.github_repository_id}:environment:${var.github_environment}",
  ]
  plan_subs = [
    "repo:${local.owner}/${local.repo_name}:environment:${var.github_plan_environment}",
    "repo:${local.owner}@${var.github_owner_id}/${local.repo_name}@${var.github_repository_id}:environment:${var.github_plan_environment}",
  ]

  oidc_provider_arn = var.github_oidc_provider_arn != null ? var.github_oidc_provider_arn : aws_iam_openid_connect_provider.github[0].arn
}

# Created unless the account already has one (one per URL per account: a second fails with
# EntityAlreadyExists).
resource "aws_iam_openid_connect_provider" "github" {
  count = var.github_oidc_provider_arn == null ? 1 : 0

  url            = "https://${local.oidc_host}"
  client_id_list = ["sts.amazonaws.com"]
}

data "aws_iam_policy_document" "assume_deploy" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [local.oidc_provider_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.oidc_host}:aud"
      values   = ["sts.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.oidc_host}:sub"
      values   = local.deploy_subs
    }
  }
}

data "aws_iam_policy_document" "assume_plan" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [local.oidc_provider_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.oidc_host}:aud"
      values   = ["sts.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.oidc_host}:sub"
      values   = local.plan_subs
    }
  }
}

resource "aws_iam_role" "deploy" {
  name                 = "${var.name_prefix}-github-deploy"
  description          = "GitHub Actions deploy.yml (environment ${var.github_environment} on main): push images, migrate, roll out"
  assume_role_policy   = data.aws_iam_policy_document.assume_deploy.json
  max_session_duration = var.deploy_session_seconds
}

# Every statement maps to a command in .github/workflows/deploy.yml; keep the two in step.
data "aws_iam_policy_document" "deploy" {
  # aws-actions/amazon-ecr-login. No resource-level permissions exist for it: AWS requires "*".
  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  # aws ecr describe-images (skip a push that already happened) and docker push.
  statement {
    sid = "EcrPush"
    actions = [
      "ecr:DescribeImages",
      "ecr:BatchGetImage",
      "ecr:BatchCheckLayerAvailability",
      "ecr:InitiateLayerUpload",
      "ecr:UploadLayerPart",
      "ecr:CompleteLayerUpload",
      "ecr:PutImage",
    ]
    resources = var.ecr_repository_arns
  }

  # aws ecs describe-task-definition / register-task-definition. Neither supports resource-level
  # permissions: AWS requires "*". What a registered revision may do is bounded by PassRole below.
  statement {
    sid       = "TaskDefinitions"
    actions   = ["ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition"]
    resources = ["*"]
  }

  # aws ecs run-task of the migration, in this cluster only.
  statement {
    sid       = "RunMigration"
    actions   = ["ecs:RunTask"]
    resources = [local.migration_tds]

    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [var.ecs_cluster_arn]
    }
  }

  # aws ecs describe-tasks (waiting for the migration to stop, its exit code).
  statement {
    sid       = "WatchMigration"
    actions   = ["ecs:DescribeTasks"]
    resources = ["arn:aws:ecs:${local.region}:${local.account_id}:task/${local.cluster_name}/*"]
  }

  # aws logs get-log-events: print the migration's output when it fails.
  statement {
    sid       = "MigrationLogs"
    actions   = ["logs:GetLogEvents"]
    resources = ["${var.migration_log_group_arn}:*"]
  }

  # aws ecs describe-services (network configuration for run-task, the revisions to restore,
  # scripts/deploy/wait-rollout.sh) and
  # aws ecs update-service.
  statement {
    sid       = "Services"
    actions   = ["ecs:DescribeServices", "ecs:UpdateService"]
    resources = var.ecs_service_arns
  }

  # aws secretsmanager get-secret-value of the smoke check's API key (the smoke step), this one
  # secret only: not the Datadog API key, not the database's. Encrypted with aws/secretsmanager,
  # so no kms:Decrypt grant is needed (modules/smoke-api-key).
  statement {
    sid       = "SmokeApiKey"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [var.smoke_api_key_secret_arn]
  }

  # Registering and running task definitions that name these roles.
  statement {
    sid       = "PassTaskRoles"
    actions   = ["iam:PassRole"]
    resources = var.pass_role_arns

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "deploy" {
  name   = "deploy"
  role   = aws_iam_role.deploy.id
  policy = data.aws_iam_policy_document.deploy.json
}

resource "aws_iam_role" "plan" {
  name                 = "${var.name_prefix}-github-plan"
  description          = "GitHub Actions pr.yml (environment ${var.github_plan_environment}): terragrunt plan, read-only"
  assume_role_policy   = data.aws_iam_policy_document.assume_plan.json
  max_session_duration = 3600
}

# What a plan refreshes, and nothing more: describe/list/get of the resource types modules/ use.
# Not AWS's ReadOnlyAccess, which also reads every bucket's objects (Terraform state of other
# stacks), CloudWatch log events (they carry gift ids), image layers and queue messages. When a
# module gains a resource type, its read actions go here (a plan fails with AccessDenied otherwise,
# naming the action). No secret values: secretsmanager:GetSecretValue is not granted.
data "aws_iam_policy_document" "plan_read" {
  statement {
    sid = "DescribeResources"
    actions = [
      "application-autoscaling:Describe*",
      "application-autoscaling:ListTagsForResource",
      "cloudwatch:DescribeAlarms",
      "cloudwatch:ListTagsForResource",
      "ec2:Describe*",
      "ecr:DescribeRepositories",
      "ecr:GetLifecyclePolicy",
      "ecr:GetRepositoryPolicy",
      "ecr:ListTagsForResource",
      "ecs:DescribeCapacityProviders",
      "ecs:DescribeClusters",
      "ecs:DescribeServices",
      "ecs:DescribeTaskDefinition",
      "ecs:ListTagsForResource",
      "elasticloadbalancing:Describe*",
      "iam:GetOpenIDConnectProvider",
      "iam:GetPolicy",
      "iam:GetPolicyVersion",
      "iam:GetRole",
      "iam:GetRolePolicy",
      "iam:ListAttachedRolePolicies",
      "iam:ListOpenIDConnectProviders",
      "iam:ListRolePolicies",
      "iam:ListRoleTags",
      "kms:DescribeKey",
      "logs:DescribeLogGroups",
      "logs:ListTagsForResource",
      "logs:ListTagsLogGroup",
      "rds:DescribeDBInstances",
      "rds:DescribeDBParameterGroups",
      "rds:DescribeDBParameters",
      "rds:DescribeDBSubnetGroups",
      "rds:ListTagsForResource",
      "secretsmanager:DescribeSecret",
      "secretsmanager:GetResourcePolicy",
      "sqs:GetQueueAttributes",
      "sqs:GetQueueUrl",
      "sqs:ListQueueTags",
    ]
    resources = ["*"]
  }

  # The log-router configuration bucket of the logging module: its settings, and the one object
  # Terraform manages there (a refresh reads its metadata and tags).
  statement {
    sid = "FirelensConfigBucket"
    actions = [
      "s3:GetAccelerateConfiguration",
      "s3:GetBucket*",
      "s3:GetEncryptionConfiguration",
      "s3:GetLifecycleConfiguration",
      "s3:GetReplicationConfiguration",
      "s3:ListBucket",
    ]
    resources = ["arn:aws:s3:::${var.name_prefix}-firelens-config-${local.account_id}"]
  }

  statement {
    sid       = "FirelensConfigObject"
    actions   = ["s3:GetObject", "s3:GetObjectTagging"]
    resources = ["arn:aws:s3:::${var.name_prefix}-firelens-config-${local.account_id}/*"]
  }

  # The state of every unit of this environment (a plan reads its own and its dependencies').
  statement {
    sid       = "StateList"
    actions   = ["s3:ListBucket"]
    resources = ["arn:aws:s3:::${var.state_bucket_name}"]
  }

  statement {
    sid       = "StateRead"
    actions   = ["s3:GetObject"]
    resources = ["arn:aws:s3:::${var.state_bucket_name}/*.tfstate"]
  }
}

resource "aws_iam_role_policy" "plan_read" {
  name   = "plan-read"
  role   = aws_iam_role.plan.id
  policy = data.aws_iam_policy_document.plan_read.json
}

# terraform plan takes the state lock: with use_lockfile that is a KEY.tflock object next to the state.
data "aws_iam_policy_document" "plan_lock" {
  statement {
    sid       = "StateLockFile"
    actions   = ["s3:PutObject", "s3:DeleteObject"]
    resources = ["arn:aws:s3:::${var.state_bucket_name}/*.tflock"]
  }
}

resource "aws_iam_role_policy" "plan_lock" {
  name   = "state-lock"
  role   = aws_iam_role.plan.id
  policy = data.aws_iam_policy_document.plan_lock.json
}
