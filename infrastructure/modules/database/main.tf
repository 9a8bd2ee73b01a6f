# PostgreSQL on RDS: encrypted with the environment's key, in the isolated
# database subnets, reachable only from the security groups given, with automated
# backups (point-in-time recovery within the retention window), enhanced monitoring,
# Performance Insights and the server log in CloudWatch.

resource "aws_db_subnet_group" "this" {
  name       = "auterity-${var.environment}"
  subnet_ids = var.subnet_ids
  tags       = var.tags
}

resource "aws_security_group" "this" {
  name        = "auterity-${var.environment}-database"
  description = "PostgreSQL, from the Auterity tasks only"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "clients" {
  for_each                     = var.client_security_groups
  security_group_id            = aws_security_group.this.id
  description                  = "PostgreSQL from the ${each.key} tasks"
  referenced_security_group_id = each.value
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
}

resource "aws_db_parameter_group" "this" {
  name   = "auterity-${var.environment}-postgres${var.engine_major_version}"
  family = "postgres${var.engine_major_version}"
  tags   = var.tags

  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }
  parameter {
    name  = "log_connections"
    value = "1"
  }
  parameter {
    name  = "log_disconnections"
    value = "1"
  }
  parameter {
    name  = "log_min_duration_statement"
    value = "1000"
  }
  parameter {
    name  = "log_lock_waits"
    value = "1"
  }
}

resource "aws_db_instance" "this" {
  identifier     = "auterity-${var.environment}"
  engine         = "postgres"
  engine_version = var.engine_major_version
  instance_class = var.instance_class

  db_name  = var.database_name
  username = var.owner_username
  password = var.owner_password
  port     = 5432

  allocated_storage     = var.allocated_storage_gb
  max_allocated_storage = var.max_allocated_storage_gb
  storage_type          = "gp3"
  storage_encrypted     = true
  kms_key_id            = var.kms_key_arn

  db_subnet_group_name   = aws_db_subnet_group.this.name
  vpc_security_group_ids = [aws_security_group.this.id]
  parameter_group_name   = aws_db_parameter_group.this.name
  publicly_accessible    = false
  multi_az               = var.multi_az

  iam_database_authentication_enabled = true
  auto_minor_version_upgrade          = true
  allow_major_version_upgrade         = false
  apply_immediately                   = false
  maintenance_window                  = "sun:04:00-sun:05:00"

  # Automated backups: daily snapshots plus the transaction log, so any second of
  # the retention window can be restored (point-in-time recovery).
  backup_retention_period  = var.backup_retention_days
  backup_window            = "02:00-03:00"
  copy_tags_to_snapshot    = true
  delete_automated_backups = false

  deletion_protection       = var.deletion_protection
  skip_final_snapshot       = false
  final_snapshot_identifier = "auterity-${var.environment}-final"

  enabled_cloudwatch_logs_exports       = ["postgresql", "upgrade"]
  monitoring_interval                   = 30
  monitoring_role_arn                   = aws_iam_role.monitoring.arn
  performance_insights_enabled          = true
  performance_insights_kms_key_id       = var.kms_key_arn
  performance_insights_retention_period = 7

  tags = var.tags

  # The exported log's groups exist (encrypted, expiring) before RDS writes to them.
  depends_on = [aws_cloudwatch_log_group.postgresql]
}

# The server log RDS exports, encrypted and kept like the other logs. Created here
# so that RDS does not create it unencrypted with no expiry.
resource "aws_cloudwatch_log_group" "postgresql" {
  for_each          = toset(["postgresql", "upgrade"])
  name              = "/aws/rds/instance/auterity-${var.environment}/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_iam_role" "monitoring" {
  name = "auterity-${var.environment}-rds-monitoring"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "monitoring.rds.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "monitoring" {
  role       = aws_iam_role.monitoring.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}
