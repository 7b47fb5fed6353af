# The dashboard (dashboard/, ADR 18): a static site the job rebuilds and uploads after
# every run (DASHBOARD_BUCKET, dashboard/publish.py). The bucket is private: public access
# is prevented, access is uniform (IAM only), and only var.dashboard_viewers may read it,
# at https://storage.cloud.google.com/BUCKET/index.html with their Google identity. The
# site holds query results only, never a credential.

resource "google_storage_bucket" "dashboard" {
  # checkov:skip=CKV_GCP_62:Access logs would need a second bucket; Cloud Audit Logs already record who read what (enable Data Access logs for Cloud Storage if required).
  project                     = var.project_id
  name                        = "${var.project_id}-${var.name}-dashboard"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = !var.deletion_protection
  labels                      = local.labels

  # Each run replaces the pages; old versions go after a week.
  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 7
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.apis]
}

resource "google_storage_bucket_iam_member" "runtime_publishes_dashboard" {
  bucket = google_storage_bucket.dashboard.name
  role   = "roles/storage.objectUser"
  member = google_service_account.runtime.member
}

resource "google_storage_bucket_iam_member" "dashboard_viewers" {
  for_each = toset(var.dashboard_viewers)

  bucket = google_storage_bucket.dashboard.name
  role   = "roles/storage.objectViewer"
  member = each.value
}
