# Who may talk to whom. Nothing else is admitted:
#   internet -> ALB (80/443), ALB -> API tasks (api_port), API/worker tasks -> RDS (5432).
# Task egress is HTTPS to anywhere (AWS APIs, ECR, Datadog intake; no NAT in the MVP, and security
# groups cannot filter by host name) plus PostgreSQL to the database security group.

resource "aws_security_group" "alb" {
  name        = "${var.name_prefix}-alb"
  description = "Public ALB: HTTP/HTTPS in from clients, API port out to the API tasks only"
  vpc_id      = aws_vpc.this.id

  tags = { Name = "${var.name_prefix}-alb" }
}

resource "aws_security_group" "api" {
  name        = "${var.name_prefix}-api"
  description = "API tasks (and the migration task): API port in from the ALB only"
  vpc_id      = aws_vpc.this.id

  tags = { Name = "${var.name_prefix}-api" }
}

resource "aws_security_group" "worker" {
  name        = "${var.name_prefix}-worker"
  description = "Worker tasks: nothing in"
  vpc_id      = aws_vpc.this.id

  tags = { Name = "${var.name_prefix}-worker" }
}

resource "aws_security_group" "rds" {
  name        = "${var.name_prefix}-rds"
  description = "PostgreSQL: 5432 in from the API and worker tasks only"
  vpc_id      = aws_vpc.this.id

  tags = { Name = "${var.name_prefix}-rds" }
}

resource "aws_vpc_security_group_ingress_rule" "alb_http" {
  for_each = toset(var.alb_ingress_cidrs)

  security_group_id = aws_security_group.alb.id
  description       = "HTTP from clients (redirected to HTTPS when a certificate is configured)"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
  # The ALB is the one public entry point of the system (docs/requirements.md §8.4); clients are on the internet.
  #trivy:ignore:AVD-AWS-0107
  cidr_ipv4 = each.value
}

resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  for_each = toset(var.alb_ingress_cidrs)

  security_group_id = aws_security_group.alb.id
  description       = "HTTPS from clients"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  # The ALB is the one public entry point of the system (docs/requirements.md §8.4); clients are on the internet.
  #trivy:ignore:AVD-AWS-0107
  cidr_ipv4 = each.value
}

resource "aws_vpc_security_group_egress_rule" "alb_to_api" {
  security_group_id            = aws_security_group.alb.id
  description                  = "Forward requests and health checks to the API tasks"
  ip_protocol                  = "tcp"
  from_port                    = var.api_port
  to_port                      = var.api_port
  referenced_security_group_id = aws_security_group.api.id
}

resource "aws_vpc_security_group_ingress_rule" "api_from_alb" {
  security_group_id            = aws_security_group.api.id
  description                  = "Requests and health checks from the ALB"
  ip_protocol                  = "tcp"
  from_port                    = var.api_port
  to_port                      = var.api_port
  referenced_security_group_id = aws_security_group.alb.id
}

resource "aws_vpc_security_group_egress_rule" "tasks_https" {
  for_each = {
    api    = aws_security_group.api.id
    worker = aws_security_group.worker.id
  }

  security_group_id = each.value
  description       = "HTTPS to AWS APIs (SQS, Secrets Manager, ECR, CloudWatch Logs) and the Datadog intake"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  # These endpoints have no fixed addresses and a security group cannot filter by host name; nothing
  # is admitted inbound, and production routes this through NAT (tasks_in_private_subnets = true).
  #trivy:ignore:AVD-AWS-0104
  cidr_ipv4 = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "tasks_postgres" {
  for_each = {
    api    = aws_security_group.api.id
    worker = aws_security_group.worker.id
  }

  security_group_id            = each.value
  description                  = "PostgreSQL to the database"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.rds.id
}

resource "aws_vpc_security_group_ingress_rule" "rds_from_tasks" {
  for_each = {
    api    = aws_security_group.api.id
    worker = aws_security_group.worker.id
  }

  security_group_id            = aws_security_group.rds.id
  description                  = "PostgreSQL from the ${each.key} tasks"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = each.value
}
