# GitHub Actions authenticates with OIDC: no long-lived AWS keys in GitHub.
#   deploy role: assumed by deploy.yml jobs running in the GitHub environment var.github_environment
#                (deployment branch rule: main only); may do exactly what deploy.yml does.
#   plan role:   assumed by pr.yml's plan job running in the GitHub environment
#                var.github_plan_environment (prod: required reviewers); read-only plus the S3 lock
#                file of a plan. Not the subject repo:OWNER/NAME:pull_request, which any branch of
#                the repository (with an edited pr.yml) would get.
# One OIDC provider per AWS account: dev and prod are separate accounts (allowed_account_ids).

locals {
  region        = split(":", var.ecs_cluster_arn)[3]
  account_id    = split(":", var.ecs_cluster_arn)[4]
  cluster_name  = split("/", var.ecs_cluster_arn)[1]
  oidc_host     = "token.actions.githubusercontent.com"
  deploy_sub    = "repo:${var.github_repository}:environment:${var.github_environment}"
  plan_sub      = "repo:${var.github_repository}:environment:${var.github_plan_environment}"
  migration_tds = "arn:aws:ecs:${local.region}:${local.account_id}:task-definition/${var.migration_task_family}:*"
}

resource "aws_iam_openid_connect_provider" "github" {
  url            = "https://${local.oidc_host}"
  client_id_list = ["sts.amazonaws.com"]
}

data "aws_iam_policy_document" "assume_deploy" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [aws_iam_openid_connect_provider.github.arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.oidc_host}:aud"
      values   = ["sts.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.oidc_host}:sub"
      values   = [local.deploy_sub]
    }
  }
}

data "aws_iam_policy_document" "assume_plan" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [aws_iam_openid_connect_provider.github.arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.oidc_host}:aud"
      values   = ["sts.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.oidc_host}:sub"
      values   = [local.plan_sub]
    }
  }
}

resource "aws_iam_role" "deploy" {
  name                 = "${var.name_prefix}-github-deploy"
  description          = "GitHub Actions deploy.yml (${local.deploy_sub}): push images, migrate, roll out"
  assume_role_policy   = data.aws_iam_policy_document.assume_deploy.json
  max_session_duration = 3600
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
  description          = "GitHub Actions pr.yml (${local.plan_sub}): terragrunt plan, read-only"
  assume_role_policy   = data.aws_iam_policy_document.assume_plan.json
  max_session_duration = 3600
}

# Refreshing every resource type of these modules needs broad read access; AWS's ReadOnlyAccess
# keeps up with new services. It grants no secret values (secretsmanager:GetSecretValue is not in it).
resource "aws_iam_role_policy_attachment" "plan_read_only" {
  role       = aws_iam_role.plan.name
  policy_arn = "arn:aws:iam::aws:policy/ReadOnlyAccess"
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
