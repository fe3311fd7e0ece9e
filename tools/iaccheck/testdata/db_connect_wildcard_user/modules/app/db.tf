variable "region" {
  type    = string
  default = "ap-northeast-1"
}

variable "resource_id" {
  type    = string
  default = "db-ABCDEFGHIJKL"
}

# The mistake: rds-db:connect as any user of the instance.
data "aws_iam_policy_document" "task" {
  statement {
    actions   = ["sqs:SendMessage"]
    resources = ["arn:aws:sqs:${var.region}:111111111111:queue"]
  }

  statement {
    sid       = "DbConnect"
    actions   = ["rds-db:connect"]
    resources = ["arn:aws:rds-db:${var.region}:111111111111:dbuser:${var.resource_id}/*"]
  }
}
