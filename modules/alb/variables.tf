variable "name_prefix" {
  description = "Prefix of every resource name, for example \"gift-dev\"."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,18}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-20 lowercase letters, digits or hyphens (ALB names are limited to 32 characters)."
  }
}

variable "vpc_id" {
  description = "VPC of the target group."
  type        = string
}

variable "public_subnet_ids" {
  description = "Public subnets (two zones) the ALB is placed in."
  type        = list(string)

  validation {
    condition     = length(var.public_subnet_ids) >= 2
    error_message = "An ALB needs subnets in at least two availability zones."
  }
}

variable "security_group_id" {
  description = "Security group of the ALB (from the network module)."
  type        = string
}

variable "api_port" {
  description = "Port of the API containers (ip targets) and of the health check."
  type        = number
  default     = 8080
}

variable "deregistration_delay_seconds" {
  description = "How long the ALB keeps a deregistering task for in-flight requests before ECS sends SIGTERM. Matched to the API's 20 s SHUTDOWN_TIMEOUT: 30 s of draining, then 20 s of graceful shutdown inside the 30 s stopTimeout."
  type        = number
  default     = 30

  validation {
    condition     = var.deregistration_delay_seconds >= 5 && var.deregistration_delay_seconds <= 120
    error_message = "deregistration_delay_seconds must be between 5 and 120; longer only slows deployments down."
  }
}

variable "certificate_arn" {
  description = "ACM certificate for an HTTPS listener. null: HTTP only (dev without a domain). When set, HTTP redirects to HTTPS."
  type        = string
  default     = null

  validation {
    condition     = var.certificate_arn == null || can(regex("^arn:aws:acm:", var.certificate_arn))
    error_message = "certificate_arn must be an ACM certificate ARN or null."
  }
}

variable "deletion_protection" {
  description = "Protect the ALB from deletion (true in prod)."
  type        = bool
  default     = false
}
