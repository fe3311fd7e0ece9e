# The mistake: the subject condition tests StringLike, so a "*" in a value would match any id.
variable "github_repository" {
  type    = string
  default = "example/app"
}

data "aws_iam_policy_document" "assume_deploy" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    condition {
      test     = "StringLike"
      variable = "token.actions.githubusercontent.com:sub"
      values   = ["repo:example/app:environment:dev"]
    }
  }
}
