variable "name_prefix" {
  description = "Name of the cluster, for example \"gift-dev\"."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-32 lowercase letters, digits or hyphens."
  }
}

variable "container_insights" {
  description = "CloudWatch Container Insights level: \"enabled\", \"enhanced\" or \"disabled\". It feeds the running/desired task metrics the monitors use."
  type        = string
  default     = "enabled"

  validation {
    condition     = contains(["enabled", "enhanced", "disabled"], var.container_insights)
    error_message = "container_insights must be enabled, enhanced or disabled."
  }
}
