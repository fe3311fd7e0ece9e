variable "name_prefix" {
  description = "Prefix of the queue names, for example \"gift-dev\" gives gift-dev-gift-send and gift-dev-gift-send-dlq."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-32 lowercase letters, digits or hyphens."
  }
}

variable "max_receive_count" {
  description = "Receives before SQS moves a message to the DLQ (docs/requirements.md §6.3: 5). The worker reads it from the RedrivePolicy at start-up."
  type        = number
  default     = 5

  validation {
    condition     = var.max_receive_count >= 1 && var.max_receive_count <= 1000
    error_message = "max_receive_count must be between 1 and 1000."
  }
}

variable "visibility_timeout_seconds" {
  description = "Visibility timeout of the main queue. Must exceed the worker's 25 s shutdown budget so that a message in flight during a deploy is not delivered twice; the worker extends it with a heartbeat for long work."
  type        = number
  default     = 60

  validation {
    condition     = var.visibility_timeout_seconds > 25 && var.visibility_timeout_seconds <= 43200
    error_message = "visibility_timeout_seconds must be above the worker's 25 s shutdown budget (and at most 12 h)."
  }
}

variable "message_retention_seconds" {
  description = "Retention of the main queue (4 days)."
  type        = number
  default     = 345600

  validation {
    condition     = var.message_retention_seconds >= 60 && var.message_retention_seconds <= 1209600
    error_message = "message_retention_seconds must be between 60 s and 14 days."
  }
}

variable "dlq_message_retention_seconds" {
  description = "Retention of the DLQ (14 days, the SQS maximum): long enough to investigate and redrive after a long weekend."
  type        = number
  default     = 1209600

  validation {
    condition     = var.dlq_message_retention_seconds >= 86400 && var.dlq_message_retention_seconds <= 1209600
    error_message = "dlq_message_retention_seconds must be between 1 and 14 days."
  }
}
