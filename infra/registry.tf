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
  # once they are old. KEEP wins over DELETE when both match. The image the job is
  # pinned to is kept whatever its age: the job must always be able to start.
  cleanup_policy_dry_run = false

  dynamic "cleanup_policies" {
    for_each = local.deployed_digest == null ? [] : [local.deployed_digest]
    content {
      id     = "keep-deployed-digest"
      action = "KEEP"
      condition {
        tag_state             = "ANY"
        version_name_prefixes = [cleanup_policies.value]
      }
    }
  }

  dynamic "cleanup_policies" {
    for_each = local.deployed_tag == null ? [] : [local.deployed_tag]
    content {
      id     = "keep-deployed-tag"
      action = "KEEP"
      condition {
        tag_state    = "TAGGED"
        tag_prefixes = [cleanup_policies.value]
      }
    }
  }

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
