variable "name_prefix" {
  description = "Prefix of the repository names, for example \"gift-dev\" gives gift-dev/api and gift-dev/worker."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-32 lowercase letters, digits or hyphens."
  }
}

variable "repositories" {
  description = "Short names of the repositories to create (one per image)."
  type        = set(string)
  default     = ["api", "worker"]

  validation {
    condition     = alltrue([for r in var.repositories : can(regex("^[a-z][a-z0-9-]*$", r))])
    error_message = "Repository names must be lowercase letters, digits or hyphens."
  }
}

variable "keep_images" {
  description = "How many images each repository keeps. Rollback needs the previous ones, so keep well more than a week of deploys."
  type        = number
  default     = 30

  validation {
    condition     = var.keep_images >= 5
    error_message = "keep_images below 5 leaves too little to roll back to."
  }
}
