data "aws_caller_identity" "current" {}

# One log group per task family. The app containers' lines arrive here through FireLens (the extra
# Fluent Bit output below); the Datadog Agent and the log router write here directly (awslogs).
# CloudWatch's default encryption is enough for these logs (no secrets are logged); a customer-managed
# key would add a KMS grant to every role that writes them.
#trivy:ignore:AVD-AWS-0017
resource "aws_cloudwatch_log_group" "this" {
  for_each = var.log_groups

  name              = "/ecs/${var.name_prefix}/${each.key}"
  retention_in_days = var.retention_days
}

# FireLens on Fargate cannot read a Fluent Bit config from S3 by itself, but the init image of
# aws-for-fluent-bit can (aws_fluent_bit_init_s3_N). This bucket holds that one extra file: a second
# output that copies every app log line to the service's CloudWatch log group, next to the Datadog
# output that ECS generates from the container's logConfiguration.
# Access logging of a bucket that holds one Terraform-written config file would only log the log
# router's reads; CloudTrail already records writes.
#trivy:ignore:AVD-AWS-0089
resource "aws_s3_bucket" "firelens" {
  bucket        = "${var.name_prefix}-firelens-config-${data.aws_caller_identity.current.account_id}"
  force_destroy = true
}

resource "aws_s3_bucket_public_access_block" "firelens" {
  bucket                  = aws_s3_bucket.firelens.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "firelens" {
  bucket = aws_s3_bucket.firelens.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "firelens" {
  bucket = aws_s3_bucket.firelens.id

  versioning_configuration {
    status = "Enabled"
  }
}

# The bucket holds one non-secret config file written by Terraform; SSE-S3 is enough, and a
# customer-managed key would need a KMS grant in every task role that reads it.
#trivy:ignore:AVD-AWS-0132
resource "aws_s3_bucket_server_side_encryption_configuration" "firelens" {
  bucket = aws_s3_bucket.firelens.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_policy" "firelens" {
  bucket = aws_s3_bucket.firelens.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "DenyInsecureTransport"
      Effect    = "Deny"
      Principal = "*"
      Action    = "s3:*"
      Resource  = [aws_s3_bucket.firelens.arn, "${aws_s3_bucket.firelens.arn}/*"]
      Condition = { Bool = { "aws:SecureTransport" = "false" } }
    }]
  })

  depends_on = [aws_s3_bucket_public_access_block.firelens]
}

# ${AWS_REGION} is set by the init process; ${CLOUDWATCH_LOG_GROUP} by the ecs-service module on the
# log router container. FireLens tags the app container's records "app-firelens-<task id>".
resource "aws_s3_object" "cloudwatch_output" {
  bucket       = aws_s3_bucket.firelens.id
  key          = "cloudwatch-copy.conf"
  content_type = "text/plain"
  content      = <<-EOT
    [OUTPUT]
        Name              cloudwatch_logs
        Match             app-firelens-*
        region            $${AWS_REGION}
        log_group_name    $${CLOUDWATCH_LOG_GROUP}
        log_stream_prefix app/
        auto_create_group false
        retry_limit       2
  EOT
}
