# The image repository. Tags are immutable, so a tag always names the image that was
# tested, and rolling back means pointing the job at an older tag or digest.

resource "google_artifact_registry_repository" "images" {
  # checkov:skip=CKV_GCP_84:Google-managed encryption is enough for images that hold no data or secrets; a CMEK key would add cost and a KMS dependency to every pull.
  project       = var.project_id
  location      = var.region
  repository_id = var.name
  format        = "DOCKER"
  description   = "Images of the ${var.name} pipeline (Cloud Run job)."

  docker_config {
    immutable_tags = true
  }

  # Storage is billed: keep the newest images (the roll-back window), delete the rest
  # once they are old. KEEP wins over DELETE when both match.
  cleanup_policy_dry_run = false

  cleanup_policies {
    id     = "keep-newest"
    action = "KEEP"
    most_recent_versions {
      keep_count = var.image_retention_count
    }
  }

  cleanup_policies {
    id     = "delete-old"
    action = "DELETE"
    condition {
      tag_state  = "ANY"
      older_than = "${var.image_retention_days * 86400}s"
    }
  }

  depends_on = [google_project_service.apis]
}
