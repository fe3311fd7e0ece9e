terraform {
  required_version = ">= 1.11, < 2.0"

  required_providers {
    datadog = {
      source  = "DataDog/datadog"
      version = ">= 3.60, < 4.0"
    }
  }
}
