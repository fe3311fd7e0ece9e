variable "region" {
  type    = string
  default = "ap-northeast-1"
}

variable "resource_id" {
  type    = string
  default = "db-ABCDEFGHIJKL"
}

# Correct: one user (the service's db_user) on one instance.
variable "service_name" {
  type = string
}

variable "db_user" {
  type = string
}

data "aws_iam_policy_document" "task" {
  statement {
    actions   = ["sqs:SendMessage"]
    resources = ["arn:aws:sqs:${var.region}:111111111111:queue"]
  }

  statement {
    sid       = "DbConnect"
    actions   = ["rds-db:connect"]
    resources = ["arn:aws:rds-db:${var.region}:111111111111:dbuser:${var.resource_id}/${var.db_user}"]
  }
}
