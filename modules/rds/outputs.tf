output "address" {
  description = "Host name of the instance (PGHOST)."
  value       = aws_db_instance.this.address
}

output "port" {
  description = "Port of the instance (PGPORT)."
  value       = aws_db_instance.this.port
}

output "database_name" {
  description = "Name of the application database (PGDATABASE)."
  value       = aws_db_instance.this.db_name
}

output "identifier" {
  description = "DB instance identifier (the dbinstanceidentifier tag of its metrics)."
  value       = aws_db_instance.this.identifier
}

output "master_user_secret_arn" {
  description = "ARN of the RDS-managed master user secret (DB_SECRET_ARN). The task roles get secretsmanager:GetSecretValue on exactly this ARN."
  value       = aws_db_instance.this.master_user_secret[0].secret_arn
}
