locals {
  family = "postgres${var.engine_version}"
}

resource "aws_db_subnet_group" "this" {
  name       = var.name_prefix
  subnet_ids = var.private_subnet_ids
}

resource "aws_db_parameter_group" "this" {
  name_prefix = "${var.name_prefix}-${local.family}-"
  family      = local.family
  description = "Gift database: TLS required, slow statements logged"

  # Already 1 by default on PostgreSQL 15 and later (the only versions engine_version admits); set
  # here so that TLS-only is a decision in code, not a default. pending-reboot: the API accepts it
  # for static and dynamic parameters alike, so no engine version can reject the apply.
  parameter {
    name         = "rds.force_ssl"
    value        = "1"
    apply_method = "pending-reboot"
  }

  parameter {
    name  = "log_min_duration_statement"
    value = "500"
  }

  lifecycle {
    create_before_destroy = true
  }
}

# The master password is created and rotated (every 7 days) by RDS in Secrets Manager
# (manage_master_user_password); Terraform never sees it, so it is in no variable and no state.
# Only the migration task reads it (at start, once). The secret uses the AWS-managed key
# aws/secretsmanager: reading it needs only secretsmanager:GetSecretValue on its ARN.
# IAM database authentication is on: the services connect as their own database users (gift_api,
# gift_worker, granted rds_iam by the migrations) with 15-minute tokens signed by their task roles,
# each allowed rds-db:connect on its own user only; there is no service password to store or rotate.
# rds.force_ssl (above) keeps every connection, token included, on TLS.
# Performance Insights uses the AWS-managed key; it holds query text, not secrets.
#trivy:ignore:AVD-AWS-0078
resource "aws_db_instance" "this" {
  identifier     = var.name_prefix
  engine         = "postgres"
  engine_version = var.engine_version
  instance_class = var.instance_class

  db_name                     = var.database_name
  username                    = var.master_username
  manage_master_user_password = true

  iam_database_authentication_enabled = true

  allocated_storage     = var.allocated_storage_gb
  max_allocated_storage = var.allocated_storage_gb * 4
  storage_type          = "gp3"
  storage_encrypted     = true

  db_subnet_group_name   = aws_db_subnet_group.this.name
  vpc_security_group_ids = [var.security_group_id]
  publicly_accessible    = false
  multi_az               = var.multi_az
  parameter_group_name   = aws_db_parameter_group.this.name

  backup_retention_period    = var.backup_retention_days
  backup_window              = "17:00-18:00"
  maintenance_window         = "sun:18:30-sun:19:30"
  auto_minor_version_upgrade = true
  copy_tags_to_snapshot      = true

  deletion_protection       = var.deletion_protection
  skip_final_snapshot       = !var.deletion_protection
  final_snapshot_identifier = var.deletion_protection ? "${var.name_prefix}-final" : null

  performance_insights_enabled = true
}
