# Cloud Scheduler starts an execution by POSTing to the job's :run method of the Cloud
# Run Admin API. That is a Google API, so the call carries an OAuth access token for the
# scheduler's service account; an OIDC identity token is for endpoints you host.

locals {
  run_job_uri = "https://${var.region}-run.googleapis.com/apis/run.googleapis.com/v1/namespaces/${var.project_id}/jobs/${google_cloud_run_v2_job.pipeline.name}:run"
}

resource "google_cloud_scheduler_job" "pipeline" {
  project     = var.project_id
  region      = var.region
  name        = "${var.name}-schedule"
  description = "Starts the ${var.name} Cloud Run job."
  schedule    = var.schedule
  time_zone   = var.schedule_time_zone
  paused      = var.schedule_paused

  # The call only starts the execution and returns; the run itself takes minutes.
  attempt_deadline = "60s"

  # Retries cover a failed start. If a start succeeded but its answer was lost, the
  # retry starts a second execution: meltano refuses it while the first runs (same state
  # ID), so it fails visibly and loads nothing twice.
  retry_config {
    retry_count          = 2
    min_backoff_duration = "60s"
    max_backoff_duration = "300s"
  }

  http_target {
    http_method = "POST"
    uri         = local.run_job_uri

    oauth_token {
      service_account_email = google_service_account.scheduler.email
      scope                 = "https://www.googleapis.com/auth/cloud-platform"
    }
  }

  depends_on = [
    google_project_service.apis,
    google_cloud_run_v2_job_iam_member.scheduler_runs_job,
  ]
}
