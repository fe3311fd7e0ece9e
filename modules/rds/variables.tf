variable "name_prefix" {
  description = "Prefix of every resource name; the DB instance identifier is exactly this, for example \"gift-dev\"."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-32 lowercase letters, digits or hyphens."
  }
}

variable "private_subnet_ids" {
  description = "Private subnets (two zones) of the DB subnet group."
  type        = list(string)

  validation {
    condition     = length(var.private_subnet_ids) >= 2
    error_message = "RDS needs subnets in at least two availability zones."
  }
}

variable "security_group_id" {
  description = "Security group of the database (from the network module): 5432 in from the tasks only."
  type        = string
}

variable "instance_class" {
  description = "Instance class. The default is the smallest Graviton class; prod uses a larger one."
  type        = string
  default     = "db.t4g.micro"

  validation {
    condition     = can(regex("^db\\.", var.instance_class))
    error_message = "instance_class must be an RDS class such as db.t4g.micro."
  }
}

variable "engine_version" {
  description = "PostgreSQL major version; minor versions are upgraded automatically in the maintenance window. Defaults to 15, the major version the test suite and `make run` use (docs/architecture.md): upgrade both together."
  type        = string
  default     = "15"

  validation {
    condition     = can(regex("^1[5-9]$", var.engine_version))
    error_message = "engine_version must be a PostgreSQL major version between 15 and 19 (the parameter group family follows it)."
  }
}

variable "allocated_storage_gb" {
  description = "Initial gp3 storage in GB; storage autoscaling may grow it up to four times this."
  type        = number
  default     = 20

  validation {
    condition     = var.allocated_storage_gb >= 20 && var.allocated_storage_gb <= 1000
    error_message = "allocated_storage_gb must be between 20 and 1000."
  }
}

variable "multi_az" {
  description = "Standby replica in the second zone (prod)."
  type        = bool
  default     = false
}

variable "backup_retention_days" {
  description = "Days of automated backups (point-in-time recovery window)."
  type        = number
  default     = 7

  validation {
    condition     = var.backup_retention_days >= 1 && var.backup_retention_days <= 35
    error_message = "backup_retention_days must be between 1 and 35 (0 would disable backups)."
  }
}

variable "deletion_protection" {
  description = "Refuse deletion and take a final snapshot when the instance is destroyed (true in prod)."
  type        = bool
  default     = true
}

variable "database_name" {
  description = "Name of the application database (PGDATABASE)."
  type        = string
  default     = "gift"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,62}$", var.database_name))
    error_message = "database_name must be a lowercase PostgreSQL identifier."
  }
}

variable "master_username" {
  description = "Master user name. Its password is generated and rotated by RDS in Secrets Manager; it never appears in Terraform."
  type        = string
  default     = "gift_admin"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,15}$", var.master_username)) && var.master_username != "postgres"
    error_message = "master_username must be a lowercase identifier of at most 16 characters and not a reserved name."
  }
}
