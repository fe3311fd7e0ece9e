variable "name" {
  type = string
}

variable "cidr" {
  type    = string
  default = "10.0.0.0/16"
}

output "vpc_id" {
  value = "vpc-1"
}

output "subnet_ids" {
  value = ["subnet-1"]
}
