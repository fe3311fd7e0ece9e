variable "name_prefix" {
  description = "Prefix of the role names, for example \"gift-dev\" gives gift-dev-github-deploy and gift-dev-github-plan."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-32 lowercase letters, digits or hyphens."
  }
}

variable "github_repository" {
  description = "The GitHub repository allowed to assume the roles, as OWNER/NAME."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must be OWNER/NAME."
  }
}

variable "github_owner_id" {
  description = "Numeric id of the repository's owner (gh api repos/OWNER/NAME --jq .owner.id). GitHub's immutable OIDC subject carries it as repo:OWNER@OWNER_ID/NAME@REPO_ID:...; the roles trust that form and the name-only one (README.md, \"Subject claims\")."
  type        = string

  validation {
    condition     = can(regex("^[1-9][0-9]*$", var.github_owner_id))
    error_message = "github_owner_id must be the owner's numeric id, digits only."
  }
}

variable "github_repository_id" {
  description = "Numeric id of the repository (gh api repos/OWNER/NAME --jq .id), the REPO_ID of the immutable OIDC subject repo:OWNER@OWNER_ID/NAME@REPO_ID:..."
  type        = string

  validation {
    condition     = can(regex("^[1-9][0-9]*$", var.github_repository_id))
    error_message = "github_repository_id must be the repository's numeric id, digits only."
  }
}

variable "github_oidc_provider_arn" {
  description = "ARN of the account's existing GitHub Actions OIDC provider (https://token.actions.githubusercontent.com), when another stack already created it; null: this module creates it. An account holds one provider per URL, so creating a second fails with EntityAlreadyExists."
  type        = string
  default     = null

  validation {
    condition     = var.github_oidc_provider_arn == null || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:oidc-provider/token\\.actions\\.githubusercontent\\.com$", var.github_oidc_provider_arn))
    error_message = "github_oidc_provider_arn must be the ARN of the token.actions.githubusercontent.com OIDC provider, or null."
  }
}

variable "deploy_session_seconds" {
  description = "Maximum session of the deploy role, in seconds. deploy-env.yml asks for this long (role-duration-seconds): it must cover the job's timeout-minutes plus the restore step that runs after a timeout or cancellation (docs/deploy.md, \"Time budget of a deploy job\")."
  type        = number
  default     = 10800

  validation {
    condition     = var.deploy_session_seconds >= 3600 && var.deploy_session_seconds <= 43200
    error_message = "deploy_session_seconds must be between 3600 and 43200 (the IAM limits)."
  }
}

variable "github_environment" {
  description = "GitHub environment of the deploy job (dev or prod). Its deployment branch rule allows only main, so the OIDC subject repo:OWNER/NAME:environment:ENV can only come from a workflow run on main."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*$", var.github_environment))
    error_message = "github_environment must be a lowercase environment name."
  }
}

variable "github_plan_environment" {
  description = "GitHub environment of pr.yml's plan job for this account (plan-dev, plan-prod). The plan role trusts only the OIDC subject repo:OWNER/NAME:environment:NAME, so a job gets the role only once the environment's protection rules let it run (prod: a required reviewer approves). Never the bare pull_request subject, which every branch of the repository can obtain."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*$", var.github_plan_environment))
    error_message = "github_plan_environment must be a lowercase environment name such as plan-prod."
  }
}

variable "ecr_repository_arns" {
  description = "ECR repositories CI pushes the api and worker images to."
  type        = list(string)
}

variable "ecs_cluster_arn" {
  description = "ARN of the ECS cluster the services and the migration task run in."
  type        = string
}

variable "ecs_service_arns" {
  description = "Services CI may update (api and worker)."
  type        = list(string)
}

variable "migration_task_family" {
  description = "Task definition family of the migration task; CI may run revisions of this family only."
  type        = string
}

variable "migration_log_group_arn" {
  description = "Log group of the migration task; CI prints its tail when a migration fails."
  type        = string
}

variable "pass_role_arns" {
  description = "Execution and task roles of the api, worker and migration task definitions that CI registers (iam:PassRole, to ECS only)."
  type        = list(string)
}

variable "state_bucket_name" {
  description = "S3 bucket of the Terraform state (created outside Terraform); the plan role may write and delete only the .tflock lock objects in it."
  type        = string
}

variable "smoke_api_key_secret_arn" {
  description = "ARN of the Secrets Manager secret holding the smoke check's API key (modules/smoke-api-key output secret_arn): the deploy role may read this secret's value and no other's."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+$", var.smoke_api_key_secret_arn))
    error_message = "smoke_api_key_secret_arn must be the full ARN of one Secrets Manager secret (no wildcard)."
  }
}
