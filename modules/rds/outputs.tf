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

output "resource_id" {
  description = "DbiResourceId of the instance: the instance part of the dbuser ARNs the services' task roles may rds-db:connect to."
  value       = aws_db_instance.this.resource_id
}

output "master_user_secret_arn" {
  description = "ARN of the RDS-managed master user secret (DB_SECRET_ARN of the migration task, whose task role alone may read it)."
  value       = aws_db_instance.this.master_user_secret[0].secret_arn
}
