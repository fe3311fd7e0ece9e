output "queue_url" {
  description = "URL of the main queue (SQS_QUEUE_URL of the API and the worker)."
  value       = aws_sqs_queue.main.url
}

output "queue_arn" {
  description = "ARN of the main queue (for the task roles)."
  value       = aws_sqs_queue.main.arn
}

output "queue_name" {
  description = "Name of the main queue (the queuename tag of its metrics)."
  value       = aws_sqs_queue.main.name
}

output "dlq_url" {
  description = "URL of the dead-letter queue (for inspection and redrive)."
  value       = aws_sqs_queue.dlq.url
}

output "dlq_arn" {
  description = "ARN of the dead-letter queue."
  value       = aws_sqs_queue.dlq.arn
}

output "dlq_name" {
  description = "Name of the dead-letter queue (the queuename tag of its metrics)."
  value       = aws_sqs_queue.dlq.name
}

output "max_receive_count" {
  description = "maxReceiveCount of the RedrivePolicy."
  value       = var.max_receive_count
}
