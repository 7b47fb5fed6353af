# A canary for a new image: before it replaces `image`, set canary_image to it and apply.
# This job runs the new image with --dry-run against production: it reads the API from
# the saved bookmark and validates every record against the tap's schemas, but loads
# nothing, saves no state and publishes nothing. Promote (set image to it, clear
# canary_image) only after an execution of this job succeeded: docs/deploy-gcp.md,
# "Deploy a new image: canary, promote, roll back". tests/test_terraform.py checks that it
# stays in step with the job in job.tf.

resource "google_cloud_run_v2_job" "canary" {
  count = var.canary_image == "" ? 0 : 1

  project             = var.project_id
  location            = var.region
  name                = "${var.name}-canary"
  deletion_protection = false

  template {
    task_count = 1

    template {
      service_account       = google_service_account.runtime.email
      execution_environment = "EXECUTION_ENVIRONMENT_GEN2"
      timeout               = "${var.task_timeout_seconds}s"
      max_retries           = 0

      containers {
        image = var.canary_image
        args  = ["--dry-run"]

        resources {
          limits = {
            cpu    = var.cpu
            memory = var.memory
          }
        }

        env {
          name  = "MELTANO_ENVIRONMENT"
          value = "prod"
        }

        env {
          name  = "USAJOBS_LOG_FORMAT"
          value = "json"
        }

        env {
          name  = "TAP_USAJOBS_USER_AGENT"
          value = var.usajobs_user_agent
        }

        env {
          name  = "USAJOBS_IMAGE"
          value = var.canary_image
        }

        env {
          name = "TAP_USAJOBS_API_KEY"
          value_source {
            secret_key_ref {
              secret  = google_secret_manager_secret.usajobs_api_key.secret_id
              version = var.usajobs_api_key_secret_version
            }
          }
        }

        # The dry run reads the bookmark from meltano's state in this database.
        env {
          name = "DATABASE_URL"
          value_source {
            secret_key_ref {
              secret  = google_secret_manager_secret.database_url.secret_id
              version = var.database_url_secret_version
            }
          }
        }

        dynamic "env" {
          for_each = var.extra_env
          content {
            name  = env.key
            value = env.value
          }
        }

        dynamic "volume_mounts" {
          for_each = local.uses_cloudsql ? ["cloudsql"] : []
          content {
            name       = volume_mounts.value
            mount_path = "/cloudsql"
          }
        }
      }

      dynamic "volumes" {
        for_each = local.uses_cloudsql ? ["cloudsql"] : []
        content {
          name = volumes.value
          cloud_sql_instance {
            instances = [var.cloudsql_instance]
          }
        }
      }
    }
  }

  depends_on = [
    google_project_service.apis,
    google_secret_manager_secret_iam_member.runtime_reads_api_key,
    google_secret_manager_secret_iam_member.runtime_reads_database_url,
  ]
}
