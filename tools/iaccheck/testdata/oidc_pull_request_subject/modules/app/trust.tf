# The mistake: a role whose trust policy accepts the OIDC subject of pull_request runs.
variable "github_repository" {
  type    = string
  default = "example/app"
}

data "aws_iam_policy_document" "assume_plan" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:sub"
      values   = ["repo:${var.github_repository}:pull_request"]
    }
  }
}
