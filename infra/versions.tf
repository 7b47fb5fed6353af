# Terraform and provider constraints. The first `terraform init` writes
# .terraform.lock.hcl with the exact provider build and its checksums: commit it.
terraform {
  # 1.9+ for validation rules that compare two variables (parallelism <= task_count).
  required_version = ">= 1.9, < 2.0"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 7.0"
    }
  }
}

provider "google" {
  project = var.project_id
  region  = var.region

  default_labels = local.labels
}
