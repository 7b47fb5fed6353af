# Two alerts, told to the channels below and to var.notification_channels:
#   execution_failed - an execution of the job ended failed: after every task has used
#                      its retries, whatever the exit code (64, 69, or the run's own);
#   no_success       - no execution succeeded for 26 hours: the schedule is paused or
#                      broken, or every run fails (a PromQL look-back: silence alerts too).

locals {
  # The job's succeeded executions, as PromQL names run.googleapis.com/job/completed_execution_count.
  succeeded = "run_googleapis_com:job_completed_execution_count{monitored_resource=\"cloud_run_job\",job_name=\"${google_cloud_run_v2_job.pipeline.name}\",result=\"succeeded\"}"

  notification_channels = concat(
    var.notification_channels,
    [for channel in google_monitoring_notification_channel.email : channel.id],
    [for channel in google_monitoring_notification_channel.webhook : channel.id],
  )
}

resource "google_monitoring_notification_channel" "email" {
  for_each = toset(var.alert_emails)

  project      = var.project_id
  display_name = "${var.name} alerts: ${each.value}"
  type         = "email"
  labels = {
    email_address = each.value
  }
  user_labels = local.labels
}

# A chat or paging webhook (a Slack incoming webhook, a paging service's endpoint). Its
# URL usually carries a token, so the variable is sensitive: plans do not show it.
resource "google_monitoring_notification_channel" "webhook" {
  count = var.alert_webhook_url == "" ? 0 : 1

  project      = var.project_id
  display_name = "${var.name} alerts: webhook"
  type         = "webhook_tokenauth"
  labels = {
    url = var.alert_webhook_url
  }
  user_labels = local.labels
}

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

  notification_channels = local.notification_channels
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

resource "google_monitoring_alert_policy" "no_success" {
  project      = var.project_id
  display_name = "${var.name}: no successful run in ${var.no_success_alert_hours} h"
  combiner     = "OR"
  severity     = "ERROR"

  conditions {
    display_name = "${var.name} has not succeeded for ${var.no_success_alert_hours} h"

    # PromQL, not a metric-absence condition: an absence condition waits at most 23.5 h,
    # less than the day between two scheduled runs. This looks back the whole window
    # (PromQL conditions may read up to 2 years) for a succeeded execution; the count is
    # written when an execution ends, so a window without one has no sample at all, and
    # the second half covers zeros, should Cloud Run ever write them.
    condition_prometheus_query_language {
      query               = "absent_over_time(${local.succeeded}[${var.no_success_alert_hours}h]) or sum(sum_over_time(${local.succeeded}[${var.no_success_alert_hours}h])) < 1"
      duration            = "0s"
      evaluation_interval = "300s"
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  notification_channels = local.notification_channels
  user_labels           = local.labels

  documentation {
    mime_type = "text/markdown"
    subject   = "${var.name}: no successful run in ${var.no_success_alert_hours} hours"
    content   = <<-EOT
      No execution of Cloud Run job `${var.name}` (project `${var.project_id}`) has
      succeeded for ${var.no_success_alert_hours} hours: the data is going stale. Either
      the schedule is paused or broken (nothing ran), or every run failed.

          gcloud scheduler jobs describe ${var.name}-schedule --project ${var.project_id} --location ${var.region}
          gcloud run jobs executions list --job ${var.name} --project ${var.project_id} --region ${var.region} --limit 5

      See docs/runbook.md, "No successful run for a day".
    EOT
  }

  depends_on = [google_project_service.apis]
}

# Alerts with no channel reach nobody: every plan and apply warns until one is set.
check "alerts_reach_someone" {
  assert {
    condition     = length(var.alert_emails) + length(var.notification_channels) > 0 || var.alert_webhook_url != ""
    error_message = "No alert reaches anyone: set alert_emails, alert_webhook_url or notification_channels (docs/deploy-gcp.md, \"When a run fails\")."
  }
}
