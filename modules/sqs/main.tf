# SSE-SQS (SQS-managed keys): encrypted at rest without a KMS key, so neither the API nor the worker
# needs a kms:* permission and there is no per-request KMS cost. A customer-managed key buys
# key-policy control this project does not need.

resource "aws_sqs_queue" "dlq" {
  name                      = "${var.name_prefix}-gift-send-dlq"
  message_retention_seconds = var.dlq_message_retention_seconds
  sqs_managed_sse_enabled   = true
}

resource "aws_sqs_queue" "main" {
  name                       = "${var.name_prefix}-gift-send"
  visibility_timeout_seconds = var.visibility_timeout_seconds
  message_retention_seconds  = var.message_retention_seconds
  receive_wait_time_seconds  = 20
  sqs_managed_sse_enabled    = true

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq.arn
    maxReceiveCount     = var.max_receive_count
  })
}

# Only the main queue may use the DLQ (a separate resource, because the DLQ cannot name the main
# queue inline without a reference cycle).
resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  queue_url = aws_sqs_queue.dlq.id

  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.main.arn]
  })
}
