variable "name_prefix" {
  description = "Prefix of every resource name, for example \"gift-dev\" gives the log group /ecs/gift-dev/api."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-32 lowercase letters, digits or hyphens."
  }
}

variable "log_groups" {
  description = "Short names of the CloudWatch log groups to create, one per ECS task family."
  type        = set(string)
  default     = ["api", "worker", "migrate"]
}

variable "retention_days" {
  description = "Retention of the CloudWatch copy. Datadog is the primary log store; CloudWatch is the fallback when Datadog is unreachable."
  type        = number
  default     = 14

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.retention_days)
    error_message = "retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, ...)."
  }
}
