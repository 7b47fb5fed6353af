# Inputs. infra/README.md's tables are generated from this file (`make infra-docs`),
# and a test fails when they drift. No variable holds a secret: the API key and the
# database URL live only in Secret Manager, and only their version numbers pass here.

# --- where ---------------------------------------------------------------------------------

variable "project_id" {
  description = "Google Cloud project that holds every resource."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a project ID (6-30 lowercase letters, digits or hyphens), not a project name or number."
  }
}

variable "region" {
  description = "Region of the job, the scheduler, the image repository and the secrets' replicas."
  type        = string
  default     = "us-central1"

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+$", var.region))
    error_message = "region must be a Google Cloud region such as us-central1."
  }
}

variable "name" {
  description = "Name of the Cloud Run job, and the prefix of every other resource name."
  type        = string
  default     = "usajobs-elt"

  validation {
    # The longest derived name, "<name>-scheduler", must fit a service account ID (30).
    condition     = can(regex("^[a-z][a-z0-9-]{1,18}[a-z0-9]$", var.name))
    error_message = "name must be 3-20 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "labels" {
  description = "Extra labels for every resource that takes labels (app=<name> is always added)."
  type        = map(string)
  default     = {}

  validation {
    condition = alltrue([
      for key, value in var.labels :
      can(regex("^[a-z][a-z0-9_-]{0,62}$", key)) && can(regex("^[a-z0-9_-]{0,63}$", value))
    ])
    error_message = "Label keys must start with a lowercase letter; keys and values use only lowercase letters, digits, _ and -."
  }
}

variable "enable_apis" {
  description = "Enable the Google APIs this stack uses. Turn off where a platform team manages project services."
  type        = bool
  default     = true
}

# --- what runs -----------------------------------------------------------------------------

variable "image" {
  description = "Container image the job runs, pinned by digest (…/usajobs-elt@sha256:…) or by an immutable tag. Not :latest."
  type        = string

  validation {
    condition = (
      can(regex("^[a-z0-9.-]+(:[0-9]+)?/[a-z0-9._/-]+(@sha256:[a-f0-9]{64}|:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$", var.image))
      && !endswith(var.image, ":latest")
    )
    error_message = "image must be a full reference with a digest (@sha256:...) or a tag other than latest."
  }
}

variable "canary_image" {
  description = "A new image to try before it becomes image: a job named <name>-canary runs it with --dry-run against production. Empty (the default) means no canary job."
  type        = string
  default     = ""

  validation {
    condition = var.canary_image == "" || (
      can(regex("^[a-z0-9.-]+(:[0-9]+)?/[a-z0-9._/-]+(@sha256:[a-f0-9]{64}|:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$", var.canary_image))
      && !endswith(var.canary_image, ":latest")
    )
    error_message = "canary_image must be empty, or a full reference with a digest (@sha256:...) or a tag other than latest."
  }
}

variable "usajobs_user_agent" {
  description = "The email address the USAJobs API key was issued to (TAP_USAJOBS_USER_AGENT). Not a secret."
  type        = string

  validation {
    condition     = can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.usajobs_user_agent))
    error_message = "usajobs_user_agent must be the email address the API key was issued to."
  }
}

variable "usajobs_api_key_secret_version" {
  description = "Version number of the API key secret that runs use (see the secret_ids output). Pinned: \"latest\" is refused."
  type        = string

  validation {
    condition     = can(regex("^[1-9][0-9]*$", var.usajobs_api_key_secret_version))
    error_message = "usajobs_api_key_secret_version must be a version number such as \"1\"; \"latest\" is not allowed."
  }
}

variable "database_url_secret_version" {
  description = "Version number of the database URL secret that runs use (see the secret_ids output). Pinned: \"latest\" is refused."
  type        = string

  validation {
    condition     = can(regex("^[1-9][0-9]*$", var.database_url_secret_version))
    error_message = "database_url_secret_version must be a version number such as \"1\"; \"latest\" is not allowed."
  }
}

variable "extra_env" {
  description = "Further plain environment variables for the job, e.g. TAP_USAJOBS_KEYWORDS. Never secrets: those belong in Secret Manager."
  type        = map(string)
  default     = {}

  validation {
    condition = alltrue([
      for key in keys(var.extra_env) : can(regex("^[A-Z][A-Z0-9_]*$", key))
    ])
    error_message = "extra_env keys must be upper-case environment variable names."
  }

  validation {
    # The job sets these itself; a duplicate env name is an API error or a silent override.
    condition = length(setintersection(keys(var.extra_env), [
      "TAP_USAJOBS_API_KEY", "TAP_USAJOBS_USER_AGENT", "DATABASE_URL", "MELTANO_ENVIRONMENT",
      "USAJOBS_LOG_FORMAT", "CLOUD_RUN_TASK_INDEX", "CLOUD_RUN_TASK_COUNT", "CLOUD_RUN_TASK_ATTEMPT",
      "DASHBOARD_BUCKET", "USAJOBS_IMAGE",
    ])) == 0
    error_message = "extra_env must not set variables the job already sets (the secrets, the user agent, MELTANO_ENVIRONMENT, USAJOBS_LOG_FORMAT, DASHBOARD_BUCKET, USAJOBS_IMAGE, CLOUD_RUN_*)."
  }

  validation {
    # A plain env var is visible to anyone who can read the job and sits in Terraform state.
    condition = alltrue([
      for key in keys(var.extra_env) :
      !can(regex("(PASSWORD|SECRET|TOKEN|API_KEY|DATABASE_URL|PGPASSFILE|CREDENTIALS)", key))
    ])
    error_message = "extra_env looks like it carries a secret; put secrets in Secret Manager instead."
  }
}

# --- how big, how long, how many ---------------------------------------------------------

variable "cpu" {
  description = "vCPUs per task (a Cloud Run CPU limit)."
  type        = string
  default     = "1"

  validation {
    condition     = contains(["1", "2", "4", "8"], var.cpu)
    error_message = "cpu must be one of 1, 2, 4 or 8."
  }
}

variable "memory" {
  description = "Memory per task (a Cloud Run memory limit, e.g. 1Gi). Jobs need at least 512Mi."
  type        = string
  default     = "2Gi"

  validation {
    condition     = can(regex("^([1-9][0-9]{2,4}Mi|[1-9][0-9]?Gi)$", var.memory))
    error_message = "memory must look like 512Mi or 1Gi."
  }
}

variable "task_timeout_seconds" {
  description = "How long one task attempt may run before Cloud Run stops it (SIGTERM, then SIGKILL)."
  type        = number
  default     = 3600

  validation {
    condition     = var.task_timeout_seconds >= 60 && var.task_timeout_seconds <= 86400 && floor(var.task_timeout_seconds) == var.task_timeout_seconds
    error_message = "task_timeout_seconds must be a whole number from 60 to 86400."
  }
}

variable "max_retries" {
  description = "Retries of a failed task within one execution. Safe: a failed run advances no state and loads are upserts."
  type        = number
  default     = 1

  validation {
    condition     = var.max_retries >= 0 && var.max_retries <= 10 && floor(var.max_retries) == var.max_retries
    error_message = "max_retries must be a whole number from 0 to 10."
  }
}

variable "task_count" {
  description = "Tasks per execution. Above 1, each task extracts its own shard of the queries (CLOUD_RUN_TASK_INDEX of CLOUD_RUN_TASK_COUNT)."
  type        = number
  default     = 1

  validation {
    condition     = var.task_count >= 1 && var.task_count <= 100 && floor(var.task_count) == var.task_count
    error_message = "task_count must be a whole number from 1 to 100."
  }
}

variable "parallelism" {
  description = "Tasks that may run at once; at most task_count. Each running task holds its own database connections."
  type        = number
  default     = 1

  validation {
    condition     = var.parallelism >= 1 && var.parallelism <= var.task_count && floor(var.parallelism) == var.parallelism
    error_message = "parallelism must be a whole number from 1 to task_count."
  }
}

variable "cloudsql_instance" {
  description = "Cloud SQL connection name (project:region:instance) to mount at /cloudsql, or \"\" for a database reached over the network (Neon, Supabase, Cloud SQL by IP)."
  type        = string
  default     = ""

  validation {
    condition     = var.cloudsql_instance == "" || can(regex("^[a-z][a-z0-9-]+:[a-z]+-[a-z]+[0-9]+:[a-z][a-z0-9-]*$", var.cloudsql_instance))
    error_message = "cloudsql_instance must be empty or a connection name such as my-project:us-central1:usajobs."
  }
}

variable "deletion_protection" {
  description = "Refuse to destroy the job (set false before `terraform destroy`)."
  type        = bool
  default     = true
}

# --- when ----------------------------------------------------------------------------------

variable "schedule" {
  description = "Cron expression for runs (the same cadence as the usajobs-elt-daily Meltano schedule)."
  type        = string
  default     = "15 6 * * *"

  validation {
    condition     = length(split(" ", trimspace(var.schedule))) == 5
    error_message = "schedule must be a five-field cron expression, e.g. \"15 6 * * *\"."
  }
}

variable "schedule_time_zone" {
  description = "Time zone of the schedule (tz database name)."
  type        = string
  default     = "Etc/UTC"

  validation {
    condition     = can(regex("^[A-Za-z_]+(/[A-Za-z0-9_+-]+)*$", var.schedule_time_zone))
    error_message = "schedule_time_zone must be a tz database name such as Etc/UTC or America/New_York."
  }
}

variable "schedule_paused" {
  description = "Create the schedule paused, so nothing runs (or costs) until you set this to false."
  type        = bool
  default     = true
}

# --- images ----------------------------------------------------------------------------------

variable "image_retention_count" {
  description = "Image versions the registry always keeps (the roll-back window); older ones are deleted after image_retention_days."
  type        = number
  default     = 10

  validation {
    condition     = var.image_retention_count >= 1 && floor(var.image_retention_count) == var.image_retention_count
    error_message = "image_retention_count must be a whole number, at least 1."
  }
}

variable "image_retention_days" {
  description = "Age in days after which images beyond the newest image_retention_count are deleted."
  type        = number
  default     = 90

  validation {
    condition     = var.image_retention_days >= 1 && floor(var.image_retention_days) == var.image_retention_days
    error_message = "image_retention_days must be a whole number, at least 1."
  }
}

# --- alerting ---------------------------------------------------------------------------

variable "notification_channels" {
  description = "Monitoring notification channel IDs (projects/P/notificationChannels/N) told when an execution fails. Empty: incidents only show in the console."
  type        = list(string)
  default     = []

  validation {
    condition = alltrue([
      for channel in var.notification_channels :
      can(regex("^projects/[^/]+/notificationChannels/[0-9]+$", channel))
    ])
    error_message = "notification_channels entries must look like projects/PROJECT/notificationChannels/123."
  }
}

# --- dashboard ----------------------------------------------------------------------------

variable "dashboard_viewers" {
  description = "Who may open the dashboard (roles/storage.objectViewer on its bucket), as IAM members: user:, group:, serviceAccount: or domain:. Empty: only project owners."
  type        = list(string)
  default     = []

  validation {
    condition = alltrue([
      for member in var.dashboard_viewers : can(regex("^(user|group|serviceAccount|domain):[^ ]+$", member))
    ])
    error_message = "dashboard_viewers entries must be IAM members such as group:analysts@example.com (no public principals)."
  }
}

variable "alert_emails" {
  description = "Email addresses told when an execution fails or no run succeeds for no_success_alert_hours (one Monitoring email channel each)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for email in var.alert_emails : can(regex("^[^@ ]+@[^@ ]+\\.[^@ ]+$", email))])
    error_message = "alert_emails entries must be email addresses."
  }
}

variable "alert_webhook_url" {
  description = "Optional https URL of a webhook (chat or paging) told of the same alerts. Sensitive: it usually carries a token."
  type        = string
  default     = ""
  sensitive   = true

  validation {
    condition     = var.alert_webhook_url == "" || can(regex("^https://", var.alert_webhook_url))
    error_message = "alert_webhook_url must be an https URL, or empty."
  }
}

variable "no_success_alert_hours" {
  description = "Alert when no execution has succeeded for this many hours: the daily schedule plus a grace period."
  type        = number
  default     = 26

  validation {
    condition     = var.no_success_alert_hours >= 2 && floor(var.no_success_alert_hours) == var.no_success_alert_hours
    error_message = "no_success_alert_hours must be a whole number, at least 2."
  }
}
