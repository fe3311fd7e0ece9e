# Application Auto Scaling of the service's desired count between min_count and max_count, by target
# tracking (it adds tasks quickly when the metric is above the target and removes them slowly):
#   API (has a target group): ALB requests per task per minute, ALBRequestCountPerTarget.
#   worker: visible messages per running task, the metric math AWS documents for SQS consumers
#           (Application Auto Scaling user guide, "Example: Amazon SQS queue backlog per task"):
#           m1 = AWS/SQS ApproximateNumberOfMessagesVisible (Sum), m2 = ECS/ContainerInsights
#           RunningTaskCount (Average; Container Insights is on, modules/ecs-cluster), e1 = m1 / m2.
# Terraform sets desired_count only when it creates the service and ignores it after (main.tf).

resource "aws_appautoscaling_target" "this" {
  service_namespace  = "ecs"
  scalable_dimension = "ecs:service:DesiredCount"
  resource_id        = "service/${local.cluster_name}/${aws_ecs_service.this.name}"
  min_capacity       = var.min_count
  max_capacity       = var.max_count
}

resource "aws_appautoscaling_policy" "requests_per_task" {
  count = local.has_alb ? 1 : 0

  name               = "${local.name}-requests-per-task"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this.service_namespace
  scalable_dimension = aws_appautoscaling_target.this.scalable_dimension
  resource_id        = aws_appautoscaling_target.this.resource_id

  target_tracking_scaling_policy_configuration {
    target_value       = var.scaling_target
    scale_out_cooldown = 60
    scale_in_cooldown  = 300

    predefined_metric_specification {
      predefined_metric_type = "ALBRequestCountPerTarget"
      # app/NAME/ID/targetgroup/NAME/ID; the target group's part is the tail of its ARN.
      resource_label = "${var.alb_arn_suffix}/${split(":", var.target_group_arn)[5]}"
    }
  }
}

resource "aws_appautoscaling_policy" "backlog_per_task" {
  count = local.has_alb ? 0 : 1

  name               = "${local.name}-backlog-per-task"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this.service_namespace
  scalable_dimension = aws_appautoscaling_target.this.scalable_dimension
  resource_id        = aws_appautoscaling_target.this.resource_id

  target_tracking_scaling_policy_configuration {
    target_value       = var.scaling_target
    scale_out_cooldown = 60
    scale_in_cooldown  = 300

    customized_metric_specification {
      metrics {
        id          = "m1"
        label       = "Messages waiting on ${local.queue_name}"
        return_data = false

        metric_stat {
          stat = "Sum"

          metric {
            namespace   = "AWS/SQS"
            metric_name = "ApproximateNumberOfMessagesVisible"

            dimensions {
              name  = "QueueName"
              value = local.queue_name
            }
          }
        }
      }

      metrics {
        id          = "m2"
        label       = "Running tasks of ${local.name}"
        return_data = false

        metric_stat {
          stat = "Average"

          metric {
            namespace   = "ECS/ContainerInsights"
            metric_name = "RunningTaskCount"

            dimensions {
              name  = "ClusterName"
              value = local.cluster_name
            }

            dimensions {
              name  = "ServiceName"
              value = aws_ecs_service.this.name
            }
          }
        }
      }

      metrics {
        id          = "e1"
        label       = "Backlog per task"
        expression  = "m1 / m2"
        return_data = true
      }
    }
  }
}
