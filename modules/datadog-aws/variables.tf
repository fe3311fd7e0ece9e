variable "name_prefix" {
  description = "Prefix of the IAM role Datadog assumes, for example \"gift-dev\" gives gift-dev-datadog-integration."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-32 lowercase letters, digits or hyphens."
  }
}

variable "env" {
  description = "Environment tag (dev or prod) Datadog adds to every metric of this AWS account (account_tags)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*$", var.env))
    error_message = "env must be a lowercase environment name."
  }
}

variable "regions" {
  description = "AWS regions Datadog collects from (only where the stack runs)."
  type        = list(string)

  validation {
    condition     = length(var.regions) > 0 && alltrue([for r in var.regions : can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", r))])
    error_message = "regions must be one or more AWS region names such as ap-northeast-1."
  }
}

variable "datadog_aws_account_id" {
  description = "AWS account of Datadog that assumes the role: 464622532012 for the commercial Datadog sites (datadoghq.com, us3, us5, datadoghq.eu, ap1); the government sites use another (Datadog's AWS integration documentation)."
  type        = string
  default     = "464622532012"

  validation {
    condition     = can(regex("^[0-9]{12}$", var.datadog_aws_account_id))
    error_message = "datadog_aws_account_id must be a 12-digit AWS account ID."
  }
}
