# The secrets the tasks read at start (ECS injects them as environment variables):
# the app's secret key, the two database URLs (owner for migrations, app login
# for API and workers), and two filled in by hand: the Temporal Cloud API key and
# the model providers' keys. Values generated here live in the Terraform state
# too: keep the state in an encrypted, access-controlled bucket (see README).

resource "random_password" "secret_key" {
  length  = 64
  special = false
}

# URL-safe: they go into postgresql:// URLs.
resource "random_password" "owner" {
  length  = 40
  special = false
}

resource "random_password" "app" {
  length  = 40
  special = false
}

locals {
  prefix = "auterity/${var.environment}"
  generated = {
    "secret-key"   = "The app's AUTERITY_SECRET_KEY: signs tokens, encrypts tenant secrets."
    "database-url" = "AUTERITY_DATABASE_URL: the app login auterity_api (role auterity_app)."
    "owner-url"    = "AUTERITY_MIGRATION_DATABASE_URL: the tables' owner, for migrations only."
  }
  by_hand = {
    "temporal-api-key" = "AUTERITY_TEMPORAL_API_KEY for Temporal Cloud; set by hand, unused with a self-hosted Temporal."
    "model-keys"       = "JSON object of model provider keys (OPENAI_API_KEY, ...); set by hand."
  }
  values = {
    "secret-key"   = random_password.secret_key.result
    "database-url" = "postgresql://auterity_api:${random_password.app.result}@${var.database_address}:5432/${var.database_name}?sslmode=require"
    "owner-url"    = "postgresql://${var.owner_username}:${random_password.owner.result}@${var.database_address}:5432/${var.database_name}?sslmode=require"
  }
}

resource "aws_secretsmanager_secret" "this" {
  #checkov:skip=CKV2_AWS_57:Rotation needs the app's cooperation (AUTERITY_SECRET_KEYS_PREVIOUS for the key, ALTER ROLE for the logins) and the Temporal and model keys are issued at their providers; infrastructure/README.md gives the procedure instead of a rotation Lambda.
  for_each                = merge(local.generated, local.by_hand)
  name                    = "${local.prefix}/${each.key}"
  description             = each.value
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.recovery_window_days
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "generated" {
  for_each      = local.generated
  secret_id     = aws_secretsmanager_secret.this[each.key].id
  secret_string = local.values[each.key]
}
