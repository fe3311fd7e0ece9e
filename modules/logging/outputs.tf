output "log_group_names" {
  description = "Log group name by short name, for example { api = \"/ecs/gift-dev/api\" }."
  value       = { for k, g in aws_cloudwatch_log_group.this : k => g.name }
}

output "log_group_arns" {
  description = "Log group ARN by short name (without the trailing :*)."
  value       = { for k, g in aws_cloudwatch_log_group.this : k => g.arn }
}

output "firelens_config_bucket_arn" {
  description = "ARN of the bucket holding the Fluent Bit extra-output file (the log router needs s3:GetBucketLocation on it)."
  value       = aws_s3_bucket.firelens.arn
}

output "firelens_config_object_arn" {
  description = "ARN of the Fluent Bit extra-output file, for aws_fluent_bit_init_s3_1 and the log router's s3:GetObject."
  value       = "${aws_s3_bucket.firelens.arn}/${aws_s3_object.cloudwatch_output.key}"
}
