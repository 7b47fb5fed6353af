# Two identities, each with only what it needs, granted on the one resource it uses:
#   runtime   - what the job's container runs as: reads the two secrets (and, with
#               cloudsql_instance, connects to that one instance). Logs and metrics
#               need no role: Cloud Run collects stdout and stderr itself.
#   scheduler - what Cloud Scheduler calls the Cloud Run Admin API as: may run this job.
# Nothing grants roles/run.invoker to allUsers or allAuthenticatedUsers.

resource "google_service_account" "runtime" {
  project      = var.project_id
  account_id   = "${var.name}-run"
  display_name = "${var.name} job runtime"
  description  = "Runs the ${var.name} Cloud Run job; reads its two secrets."
}

resource "google_service_account" "scheduler" {
  project      = var.project_id
  account_id   = "${var.name}-scheduler"
  display_name = "${var.name} scheduler"
  description  = "Cloud Scheduler's identity for starting the ${var.name} Cloud Run job."
}

resource "google_secret_manager_secret_iam_member" "runtime_reads_api_key" {
  project   = var.project_id
  secret_id = google_secret_manager_secret.usajobs_api_key.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.runtime.member
}

resource "google_secret_manager_secret_iam_member" "runtime_reads_database_url" {
  project   = var.project_id
  secret_id = google_secret_manager_secret.database_url.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.runtime.member
}

# Cloud SQL has no per-instance IAM resource: the role is granted on the project,
# narrowed by an IAM condition to the one instance.
resource "google_project_iam_member" "runtime_connects_to_cloudsql" {
  count = local.uses_cloudsql ? 1 : 0

  project = local.cloudsql.project
  role    = "roles/cloudsql.client"
  member  = google_service_account.runtime.member

  condition {
    title       = "${var.name}-instance-only"
    description = "Only the instance the ${var.name} job writes to."
    expression  = "resource.name == \"projects/${local.cloudsql.project}/instances/${local.cloudsql.instance}\" && resource.service == \"sqladmin.googleapis.com\""
  }
}

# roles/run.invoker on the job carries run.jobs.run, which the scheduler's POST to
# .../jobs/NAME:run needs; not runWithOverrides, which it does not use.
resource "google_cloud_run_v2_job_iam_member" "scheduler_runs_job" {
  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_job.pipeline.name
  role     = "roles/run.invoker"
  member   = google_service_account.scheduler.member
}
