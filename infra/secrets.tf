# The two secrets. Terraform creates only the containers: their values are added with
# `gcloud secrets versions add` (docs/deploy-gcp.md), so no secret ever passes through
# a variable, a plan or the state. The job reads the version numbers given in
# usajobs_api_key_secret_version and database_url_secret_version, never "latest", so a
# new value takes effect only through a reviewed `terraform apply`.

resource "google_secret_manager_secret" "usajobs_api_key" {
  project   = var.project_id
  secret_id = "${var.name}-api-key"

  # Google-managed encryption; one replica, in the job's region.
  replication {
    user_managed {
      replicas {
        location = var.region
      }
    }
  }

  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret" "database_url" {
  project   = var.project_id
  secret_id = "${var.name}-database-url"

  replication {
    user_managed {
      replicas {
        location = var.region
      }
    }
  }

  depends_on = [google_project_service.apis]
}
