# The mistake: a role trusting a branch subject (any workflow run on main, not the protected
# environment with its protection rules).
variable "github_repository" {
  type    = string
  default = "example/app"
}

data "aws_iam_policy_document" "assume_deploy" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:sub"
      values   = ["repo:${var.github_repository}:ref:refs/heads/main"]
    }
  }
}
