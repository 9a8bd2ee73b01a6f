# Who talks to whom. Tasks reach out only on the ports they need: PostgreSQL in
# the VPC, Temporal (7233, Temporal Cloud or a self-hosted frontend), HTTPS (model
# providers, identity providers, S3, Secrets Manager), and for workers HTTP too
# (http nodes). The app's own egress policy refuses internal addresses for
# tenant-controlled calls; these rules are the second wall.

resource "aws_security_group" "api" {
  name        = "${local.name}-api"
  description = "Auterity API tasks"
  vpc_id      = module.network.vpc_id
  tags        = local.tags
}

resource "aws_security_group" "worker" {
  name        = "${local.name}-worker"
  description = "Auterity worker tasks"
  vpc_id      = module.network.vpc_id
  tags        = local.tags
}

resource "aws_security_group" "migrate" {
  name        = "${local.name}-migrate"
  description = "Auterity migration task"
  vpc_id      = module.network.vpc_id
  tags        = local.tags
}

resource "aws_vpc_security_group_ingress_rule" "api_from_load_balancer" {
  security_group_id            = aws_security_group.api.id
  description                  = "HTTP from the load balancer"
  referenced_security_group_id = module.load_balancer.security_group_id
  ip_protocol                  = "tcp"
  from_port                    = 8000
  to_port                      = 8000
}

resource "aws_vpc_security_group_ingress_rule" "metrics" {
  for_each = {
    api    = { group = aws_security_group.api.id, port = 8000 }
    worker = { group = aws_security_group.worker.id, port = 9464 }
  }
  security_group_id = each.value.group
  description       = "Prometheus scrapes from the monitoring range"
  cidr_ipv4         = var.monitoring_cidr_block
  ip_protocol       = "tcp"
  from_port         = each.value.port
  to_port           = each.value.port
}

locals {
  task_groups = {
    api     = aws_security_group.api.id
    worker  = aws_security_group.worker.id
    migrate = aws_security_group.migrate.id
  }
  egress = merge(
    { for name, id in local.task_groups : "${name}-postgres" => { group = id, cidr = module.network.vpc_cidr_block, port = 5432, why = "PostgreSQL" } },
    { for name, id in local.task_groups : "${name}-temporal" => { group = id, cidr = var.temporal_cidr_block, port = 7233, why = "Temporal frontend" } },
    { for name, id in local.task_groups : "${name}-https" => { group = id, cidr = "0.0.0.0/0", port = 443, why = "HTTPS: AWS APIs, model and identity providers" } },
    { "worker-http" = { group = aws_security_group.worker.id, cidr = "0.0.0.0/0", port = 80, why = "HTTP: http nodes" } },
  )
}

resource "aws_vpc_security_group_egress_rule" "this" {
  for_each          = local.egress
  security_group_id = each.value.group
  description       = each.value.why
  cidr_ipv4         = each.value.cidr
  ip_protocol       = "tcp"
  from_port         = each.value.port
  to_port           = each.value.port
}
