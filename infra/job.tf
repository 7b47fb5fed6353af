# The pipeline as a Cloud Run job: each execution runs the image's entrypoint
# (orchestrate/run.py, job usajobs-elt: extract, load, dbt build-audit and publish) and
# exits 0, 64 (bad configuration), 69 (database unreachable) or the run's own code.
# Keep infra/cloudrun-job.yaml, the same job for `gcloud run jobs replace`, in step.

resource "google_cloud_run_v2_job" "pipeline" {
  project             = var.project_id
  location            = var.region
  name                = var.name
  deletion_protection = var.deletion_protection

  template {
    # Above 1, every task runs the whole job on its own shard of the queries, chosen
    # from CLOUD_RUN_TASK_INDEX and CLOUD_RUN_TASK_COUNT, with its own state ID.
    task_count  = var.task_count
    parallelism = var.parallelism

    template {
      service_account       = google_service_account.runtime.email
      execution_environment = "EXECUTION_ENVIRONMENT_GEN2"
      timeout               = "${var.task_timeout_seconds}s"
      max_retries           = var.max_retries

      containers {
        image = var.image

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

        # One JSON object per log line with Cloud Logging's severity and message keys,
        # each carrying the run's run_id (orchestrate/logging-json.yaml).
        env {
          name  = "USAJOBS_LOG_FORMAT"
          value = "json"
        }

        env {
          name  = "TAP_USAJOBS_USER_AGENT"
          value = var.usajobs_user_agent
        }

        # Recorded with each run (usajobs_ops.pipeline_runs.versions): the image by
        # digest, when `image` pins one.
        env {
          name  = "USAJOBS_IMAGE"
          value = var.image
        }

        # After each run the dashboard is rebuilt and uploaded there (dashboard.tf).
        env {
          name  = "DASHBOARD_BUCKET"
          value = google_storage_bucket.dashboard.name
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

        # One URL (postgresql://user:password@host:port/db?sslmode=require), as Neon,
        # Supabase and Cloud SQL hand it out. The entrypoint turns it into libpq's PG*
        # variables, which target-postgres, dbt and meltano's system database read
        # (ADR 0002, ADR 0009).
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

      # Cloud SQL's unix socket, /cloudsql/PROJECT:REGION:INSTANCE/.s.PGSQL.5432: the
      # URL then names it with ?host=/cloudsql/PROJECT:REGION:INSTANCE.
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
    # The job cannot start a task before its identity may read the secrets.
    google_secret_manager_secret_iam_member.runtime_reads_api_key,
    google_secret_manager_secret_iam_member.runtime_reads_database_url,
    google_storage_bucket_iam_member.runtime_publishes_dashboard,
  ]
}
