variable "name_prefix" {
  description = "Prefix of every resource name, for example \"gift-dev\". Tags come from the provider's default_tags."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-32 lowercase letters, digits or hyphens."
  }
}

variable "vpc_cidr" {
  description = "CIDR block of the VPC. Public and private subnets are carved from it as /20s."
  type        = string
  default     = "10.40.0.0/16"

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && tonumber(split("/", var.vpc_cidr)[1]) <= 18
    error_message = "vpc_cidr must be a valid IPv4 CIDR of /18 or larger."
  }
}

variable "availability_zones" {
  description = "Exactly two availability zones, for example [\"ap-northeast-1a\", \"ap-northeast-1c\"]."
  type        = list(string)

  validation {
    condition     = length(var.availability_zones) == 2 && length(distinct(var.availability_zones)) == 2
    error_message = "availability_zones must name two different zones."
  }
}

variable "tasks_in_private_subnets" {
  description = "false (MVP, no NAT): ECS tasks run in the public subnets with public IPs and security groups admit only the ALB. true (production): tasks run in the private subnets and reach AWS APIs and Datadog through one NAT gateway per zone."
  type        = bool
  default     = false
}

variable "api_port" {
  description = "Port the API container listens on; the only port the ALB may reach."
  type        = number
  default     = 8080

  validation {
    condition     = var.api_port > 0 && var.api_port < 65536
    error_message = "api_port must be a TCP port number."
  }
}

variable "alb_ingress_cidrs" {
  description = "Client CIDRs allowed to reach the ALB on 80/443. The public API is open to the internet by default."
  type        = list(string)
  default     = ["0.0.0.0/0"]

  validation {
    condition     = alltrue([for c in var.alb_ingress_cidrs : can(cidrhost(c, 0))])
    error_message = "Every entry of alb_ingress_cidrs must be a valid IPv4 CIDR."
  }
}
