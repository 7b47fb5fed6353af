# An alert when an execution of the job ends failed: after every task has used its
# retries, whatever the exit code (64 configuration, 69 database, or the run's own).

resource "google_monitoring_alert_policy" "execution_failed" {
  project      = var.project_id
  display_name = "${var.name}: job execution failed"
  combiner     = "OR"
  severity     = "ERROR"

  conditions {
    display_name = "${var.name} execution ended failed"

    condition_threshold {
      filter = join(" AND ", [
        "resource.type = \"cloud_run_job\"",
        "resource.labels.job_name = \"${google_cloud_run_v2_job.pipeline.name}\"",
        "metric.type = \"run.googleapis.com/job/completed_execution_count\"",
        "metric.labels.result = \"failed\"",
      ])
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"

      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_SUM"
      }

      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  notification_channels = var.notification_channels
  user_labels           = local.labels

  documentation {
    mime_type = "text/markdown"
    subject   = "${var.name}: a Cloud Run job execution failed"
    content   = <<-EOT
      An execution of Cloud Run job `${var.name}` (project `${var.project_id}`, region
      `${var.region}`) ended failed. Meltano state was not advanced past uncommitted
      data, so the next run resumes where the last good one stopped.

      Read the entrypoint's last lines (exit 64: a setting is missing or malformed;
      69: the database is unreachable; other: the run failed):

          gcloud logging read 'resource.type="cloud_run_job" AND resource.labels.job_name="${var.name}"' --project ${var.project_id} --freshness 1d --limit 50

      See docs/deploy-gcp.md, "When a run fails".
    EOT
  }

  depends_on = [google_project_service.apis]
}
