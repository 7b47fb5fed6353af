# usajobs-elt on Google Cloud: one Cloud Run job that runs the pipeline image, started by
# Cloud Scheduler, its two secrets in Secret Manager, and an alert when an execution
# fails. Meltano's state needs no resource here: it lives in the pipeline's own
# PostgreSQL, through MELTANO_DATABASE_URI in the image (ADR 0008). See README.md.

locals {
  labels = merge(var.labels, { app = var.name })

  # What the job runs, as the registry names it: a digest (version) or a tag. The clean-up
  # policies must never delete it, however old it gets (registry.tf).
  deployed_digest = one(regexall("@(sha256:[a-f0-9]{64})$", var.image)[*][0])
  deployed_tag    = strcontains(var.image, "@") ? null : one(regexall(":([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$", var.image)[*][0])

  uses_cloudsql = var.cloudsql_instance != ""
  cloudsql = local.uses_cloudsql ? {
    project  = split(":", var.cloudsql_instance)[0]
    instance = split(":", var.cloudsql_instance)[2]
  } : null

  apis = toset(concat(
    [
      "artifactregistry.googleapis.com",
      "cloudscheduler.googleapis.com",
      "iam.googleapis.com",
      "monitoring.googleapis.com",
      "run.googleapis.com",
      "secretmanager.googleapis.com",
      "storage.googleapis.com",
    ],
    local.uses_cloudsql ? ["sqladmin.googleapis.com"] : [],
  ))
}

resource "google_project_service" "apis" {
  for_each = var.enable_apis ? local.apis : toset([])

  project = var.project_id
  service = each.key

  # Other workloads in the project may use these APIs too: never switch them off.
  disable_on_destroy         = false
  disable_dependent_services = false
}
