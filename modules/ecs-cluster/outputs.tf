output "cluster_name" {
  description = "Name of the cluster (the clustername tag of its metrics; --cluster of the aws ecs CLI)."
  value       = aws_ecs_cluster.this.name
}

output "cluster_arn" {
  description = "ARN of the cluster."
  value       = aws_ecs_cluster.this.arn
}
