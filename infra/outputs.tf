# Outputs: names and commands only. Nothing here is secret.

output "job_name" {
  description = "Name of the Cloud Run job."
  value       = google_cloud_run_v2_job.pipeline.name
}

output "image_repository" {
  description = "Where to push the image: docker push <this>/usajobs-elt:<tag>."
  value       = "${var.region}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.images.repository_id}"
}

output "runtime_service_account" {
  description = "Email of the service account the job runs as."
  value       = google_service_account.runtime.email
}

output "scheduler_service_account" {
  description = "Email of the service account Cloud Scheduler starts the job as."
  value       = google_service_account.scheduler.email
}

output "secret_ids" {
  description = "Secret Manager secret IDs to add versions to, keyed by what they hold."
  value = {
    usajobs_api_key = google_secret_manager_secret.usajobs_api_key.secret_id
    database_url    = google_secret_manager_secret.database_url.secret_id
  }
}

output "scheduler_job" {
  description = "Name of the Cloud Scheduler job (paused unless schedule_paused = false)."
  value       = google_cloud_scheduler_job.pipeline.name
}

output "run_job_uri" {
  description = "The Cloud Run Admin API endpoint the scheduler POSTs to."
  value       = local.run_job_uri
}

output "execute_command" {
  description = "Start one execution now and wait for it."
  value       = "gcloud run jobs execute ${google_cloud_run_v2_job.pipeline.name} --project ${var.project_id} --region ${var.region} --wait"
}

output "logs_command" {
  description = "Read the job's recent logs."
  value       = "gcloud logging read 'resource.type=\"cloud_run_job\" AND resource.labels.job_name=\"${google_cloud_run_v2_job.pipeline.name}\"' --project ${var.project_id} --freshness 1d --limit 100"
}

output "alert_policy" {
  description = "ID of the alert policy on failed executions."
  value       = google_monitoring_alert_policy.execution_failed.id
}

output "dashboard_url" {
  description = "The dashboard, for var.dashboard_viewers (signed in with their Google identity)."
  value       = "https://storage.cloud.google.com/${google_storage_bucket.dashboard.name}/index.html"
}

output "canary_execute_command" {
  description = "Run the canary (a dry run of canary_image against production); promote only if it exits 0."
  value       = var.canary_image == "" ? null : "gcloud run jobs execute ${google_cloud_run_v2_job.canary[0].name} --project ${var.project_id} --region ${var.region} --wait"
}
