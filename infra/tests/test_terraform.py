"""Structural tests of infra/*.tf, read with python-hcl2.

`terraform validate` needs the provider, which cannot be downloaded here, so these pin
what a reviewer checks by hand: the scheduler's URI and OAuth token, secrets pinned to
versions, least-privilege IAM with no public invoker, the job's sizing, the variables'
validation rules (their regular expressions are run against good and bad values), the
Cloud Run YAML twin, the example files, and the generated README tables.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import yaml
from tfdocs import render_readme
from tfload import load_file

if TYPE_CHECKING:
    from pathlib import Path

SCHEDULER_SA = "${google_service_account.scheduler.email}"
RUNTIME_MEMBER = "${google_service_account.runtime.member}"
SCHEDULER_MEMBER = "${google_service_account.scheduler.member}"


def resource(terraform: dict[str, Any], kind: str, name: str) -> dict[str, Any]:
    return terraform["resource"][kind][name]


def block(body: dict[str, Any], *path: str) -> dict[str, Any]:
    """The one nested block at ``path`` (python-hcl2 gives each block as a list)."""
    for key in path:
        blocks = body[key]
        assert len(blocks) == 1, f"expected one {key} block, found {len(blocks)}"
        body = blocks[0]
    return body


def job_container(terraform: dict[str, Any]) -> dict[str, Any]:
    job = resource(terraform, "google_cloud_run_v2_job", "pipeline")
    return block(job, "template", "template", "containers")


def env_by_name(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in container["env"]}


def default(terraform: dict[str, Any], variable: str) -> Any:
    return terraform["variable"][variable]["default"]


def regex_rules(terraform: dict[str, Any], variable: str) -> list[re.Pattern[str]]:
    """The patterns of ``can(regex("...", ...))`` in a variable's validation rules."""
    # The subject is var.NAME, or a loop variable over it (for channel in var.NAME).
    literal = re.compile(r'regex\("((?:[^"\\]|\\.)*)",\s*[a-z_.]+\)')
    return [
        re.compile(json.loads(f'"{pattern}"'))
        for rule in terraform["variable"][variable].get("validation", [])
        for pattern in literal.findall(rule["condition"])
    ]


def accepts(terraform: dict[str, Any], variable: str, value: str) -> bool:
    """Whether every regex rule of the variable accepts ``value`` (RE2 and re agree here)."""
    patterns = regex_rules(terraform, variable)
    assert patterns, f"variable {variable} has no regex validation"
    return all(pattern.search(value) for pattern in patterns)


def walk_strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [s for key, value in node.items() for s in [key, *walk_strings(value)]]
    if isinstance(node, list):
        return [s for item in node for s in walk_strings(item)]
    return [node] if isinstance(node, str) else []


# --- files and versions ---------------------------------------------------------------


def test_every_terraform_file_parses(infra_dir: Path) -> None:
    files = [
        *infra_dir.glob("*.tf"),
        infra_dir / "terraform.tfvars.example",
        infra_dir / "backend.tf.example",
    ]
    assert len(files) >= 8
    for path in files:
        assert load_file(path), f"{path.name} parsed to nothing"


def test_terraform_and_provider_versions_are_constrained(terraform: dict[str, Any]) -> None:
    settings = terraform["terraform"][0]
    assert re.fullmatch(r">= 1\.\d+, < 2\.0", settings["required_version"])
    google = settings["required_providers"][0]["google"]
    assert google["source"] == "hashicorp/google"
    assert re.fullmatch(r"~> \d+\.\d+", google["version"]), "pin the provider's major version"


def test_backend_example_uses_gcs_with_a_placeholder_bucket(infra_dir: Path) -> None:
    backend = load_file(infra_dir / "backend.tf.example")["terraform"][0]["backend"][0]["gcs"]
    assert backend["bucket"] == "MY-TFSTATE-BUCKET"
    assert backend["prefix"]


# --- the scheduler ------------------------------------------------------------------------


def test_scheduler_posts_to_the_jobs_run_endpoint(terraform: dict[str, Any]) -> None:
    run_job_uri = next(
        local["run_job_uri"] for local in terraform["locals"] if "run_job_uri" in local
    )
    assert run_job_uri == (
        "https://${var.region}-run.googleapis.com/apis/run.googleapis.com/v1/"
        "namespaces/${var.project_id}/jobs/${google_cloud_run_v2_job.pipeline.name}:run"
    )
    target = block(resource(terraform, "google_cloud_scheduler_job", "pipeline"), "http_target")
    assert target["http_method"] == "POST"
    assert target["uri"] == "${local.run_job_uri}"


def test_scheduler_authenticates_with_an_oauth_token_not_oidc(terraform: dict[str, Any]) -> None:
    target = block(resource(terraform, "google_cloud_scheduler_job", "pipeline"), "http_target")
    assert "oidc_token" not in target
    token = block(target, "oauth_token")
    assert token["service_account_email"] == SCHEDULER_SA
    assert token["scope"] == "https://www.googleapis.com/auth/cloud-platform"


def test_schedule_is_paused_until_the_user_chooses(terraform: dict[str, Any]) -> None:
    scheduler = resource(terraform, "google_cloud_scheduler_job", "pipeline")
    assert scheduler["paused"] == "${var.schedule_paused}"
    assert default(terraform, "schedule_paused") is True


def test_default_schedule_matches_the_meltano_schedule(
    terraform: dict[str, Any], infra_dir: Path
) -> None:
    jobs = yaml.safe_load((infra_dir.parent / "orchestrate" / "jobs.meltano.yml").read_text())
    intervals = {schedule["interval"] for schedule in jobs["schedules"]}
    assert default(terraform, "schedule") in intervals


# --- secrets --------------------------------------------------------------------------------


def test_secrets_reach_the_job_by_pinned_version(terraform: dict[str, Any]) -> None:
    env = env_by_name(job_container(terraform))
    expected = {
        "TAP_USAJOBS_API_KEY": ("usajobs_api_key", "usajobs_api_key_secret_version"),
        "DATABASE_URL": ("database_url", "database_url_secret_version"),
    }
    for name, (secret, version_variable) in expected.items():
        ref = block(env[name], "value_source", "secret_key_ref")
        assert ref["secret"] == f"${{google_secret_manager_secret.{secret}.secret_id}}"
        assert ref["version"] == f"${{var.{version_variable}}}"
        assert "value" not in env[name]
        assert "default" not in terraform["variable"][version_variable], "a version must be chosen"
        assert accepts(terraform, version_variable, "1")
        assert accepts(terraform, version_variable, "12")
        for bad in ("latest", "0", "", "1 ", "v1"):
            assert not accepts(terraform, version_variable, bad), bad


def test_no_secret_value_passes_through_terraform(
    terraform: dict[str, Any], infra_dir: Path
) -> None:
    # Secret values are added with gcloud, so neither a plan nor the state holds them.
    assert "google_secret_manager_secret_version" not in terraform["resource"]
    text = "\n".join(path.read_text() for path in infra_dir.glob("*.tf"))
    assert "secret_data" not in text
    for name, spec in terraform["output"].items():
        assert "sensitive" not in spec, f"output {name} should not need to be sensitive"
        assert "secret_version" not in json.dumps(spec["value"]), name


def test_plain_env_vars_carry_no_secret(terraform: dict[str, Any]) -> None:
    container = job_container(terraform)
    plain = {entry["name"] for entry in container["env"] if "value" in entry}
    assert plain == {
        "MELTANO_ENVIRONMENT",
        "TAP_USAJOBS_USER_AGENT",
        "USAJOBS_LOG_FORMAT",
        "DASHBOARD_BUCKET",
        "USAJOBS_IMAGE",
    }
    # extra_env may not set again any variable the job sets.
    (reserved,) = [
        rule["condition"]
        for rule in terraform["variable"]["extra_env"]["validation"]
        if "setintersection" in rule["condition"]
    ]
    for name in env_by_name(container):
        assert f'"{name}"' in reserved, name
    # extra_env's rules refuse secret-looking and reserved names.
    rules = " ".join(rule["condition"] for rule in terraform["variable"]["extra_env"]["validation"])
    found = re.search(r'regex\("(\([^"]+\))", key\)', rules)
    assert found, "extra_env has no regex rule on its keys"
    secret_pattern = re.compile(found.group(1))
    for name in (
        "PGPASSWORD",
        "TAP_USAJOBS_API_KEY",
        "DATABASE_URL",
        "SOME_TOKEN",
        "GOOGLE_CREDENTIALS",
    ):
        assert secret_pattern.search(name), name
    for name in ("TAP_USAJOBS_KEYWORDS", "PGSSLMODE", "TAP_USAJOBS_LOOKBACK_DAYS"):
        assert not secret_pattern.search(name), name
    for reserved in (
        "TAP_USAJOBS_API_KEY",
        "DATABASE_URL",
        "MELTANO_ENVIRONMENT",
        "CLOUD_RUN_TASK_INDEX",
    ):
        assert f'"{reserved}"' in rules
    assert default(terraform, "extra_env") == {}


def test_no_variable_default_looks_like_a_secret(terraform: dict[str, Any]) -> None:
    for name, spec in terraform["variable"].items():
        assert not re.search(r"(password|secret_value|api_key$|token)", name), name
        if isinstance(spec.get("default"), str):
            assert "://" not in spec["default"], f"{name} defaults to a URL"


# --- identity and access -----------------------------------------------------------------


def test_iam_grants_only_what_each_identity_needs(terraform: dict[str, Any]) -> None:
    grants = set()
    for kind, resources in terraform["resource"].items():
        if not kind.endswith("_iam_member"):
            continue
        for body in resources.values():
            keys = ("secret_id", "name", "bucket", "project")
            scope = next((body[key] for key in keys if body.get(key)), None)
            grants.add((kind, scope, body["role"], body["member"]))
    assert grants == {
        (
            "google_secret_manager_secret_iam_member",
            "${google_secret_manager_secret.usajobs_api_key.secret_id}",
            "roles/secretmanager.secretAccessor",
            RUNTIME_MEMBER,
        ),
        (
            "google_secret_manager_secret_iam_member",
            "${google_secret_manager_secret.database_url.secret_id}",
            "roles/secretmanager.secretAccessor",
            RUNTIME_MEMBER,
        ),
        (
            "google_project_iam_member",
            "${local.cloudsql.project}",
            "roles/cloudsql.client",
            RUNTIME_MEMBER,
        ),
        (
            "google_cloud_run_v2_job_iam_member",
            "${google_cloud_run_v2_job.pipeline.name}",
            "roles/run.invoker",
            SCHEDULER_MEMBER,
        ),
        # The job writes the dashboard's objects; its viewers may only read them.
        (
            "google_storage_bucket_iam_member",
            "${google_storage_bucket.dashboard.name}",
            "roles/storage.objectUser",
            RUNTIME_MEMBER,
        ),
        (
            "google_storage_bucket_iam_member",
            "${google_storage_bucket.dashboard.name}",
            "roles/storage.objectViewer",
            "${each.value}",
        ),
    }


def test_the_dashboard_bucket_is_private_and_only_named_viewers_read_it(
    terraform: dict[str, Any],
) -> None:
    bucket = resource(terraform, "google_storage_bucket", "dashboard")
    assert bucket["public_access_prevention"] == "enforced"
    assert bucket["uniform_bucket_level_access"] is True
    assert accepts(terraform, "dashboard_viewers", "group:analysts@example.com")
    assert not accepts(terraform, "dashboard_viewers", "allUsers")
    assert not accepts(terraform, "dashboard_viewers", "allAuthenticatedUsers")
    env = env_by_name(job_container(terraform))
    assert env["DASHBOARD_BUCKET"]["value"] == "${google_storage_bucket.dashboard.name}"


def test_the_one_project_level_grant_is_conditional_on_one_instance(
    terraform: dict[str, Any],
) -> None:
    grant = resource(terraform, "google_project_iam_member", "runtime_connects_to_cloudsql")
    assert grant["count"] == "${local.uses_cloudsql ? 1 : 0}"
    expression = block(grant, "condition")["expression"]
    assert "projects/${local.cloudsql.project}/instances/${local.cloudsql.instance}" in expression


def test_no_public_invoker_and_no_authoritative_iam(
    terraform: dict[str, Any], infra_dir: Path
) -> None:
    job_yaml = yaml.safe_load((infra_dir / "cloudrun-job.yaml").read_text())
    for value in walk_strings(terraform) + walk_strings(job_yaml):  # comments excluded
        assert "allUsers" not in value
        assert "allAuthenticatedUsers" not in value
        assert value not in {"roles/owner", "roles/editor", "roles/viewer"}
    for kind in terraform["resource"]:
        assert not kind.endswith(("_iam_binding", "_iam_policy")), (
            f"{kind} would replace others' grants"
        )


def test_the_job_runs_as_its_own_service_account(terraform: dict[str, Any]) -> None:
    job = resource(terraform, "google_cloud_run_v2_job", "pipeline")
    assert (
        block(job, "template", "template")["service_account"]
        == "${google_service_account.runtime.email}"
    )


def test_service_account_ids_fit_for_every_allowed_name(terraform: dict[str, Any]) -> None:
    suffixes = [
        spec["account_id"].removeprefix("${var.name}")
        for spec in terraform["resource"]["google_service_account"].values()
    ]
    longest_name = "a" * 20
    assert accepts(terraform, "name", longest_name)
    assert not accepts(terraform, "name", longest_name + "a")
    for suffix in suffixes:
        assert 6 <= len(longest_name + suffix) <= 30, suffix


# --- the job ----------------------------------------------------------------------------


def test_job_is_sized_timed_and_retried_from_variables(terraform: dict[str, Any]) -> None:
    job = resource(terraform, "google_cloud_run_v2_job", "pipeline")
    execution = block(job, "template")
    task = block(execution, "template")
    assert execution["task_count"] == "${var.task_count}"
    assert execution["parallelism"] == "${var.parallelism}"
    assert task["timeout"] == "${var.task_timeout_seconds}s"
    assert task["max_retries"] == "${var.max_retries}"
    assert task["execution_environment"] == "EXECUTION_ENVIRONMENT_GEN2"
    limits = block(job_container(terraform), "resources")["limits"]
    assert limits == {"cpu": "${var.cpu}", "memory": "${var.memory}"}


def test_default_size_and_limits(terraform: dict[str, Any]) -> None:
    assert default(terraform, "cpu") == "1"
    assert default(terraform, "memory") == "2Gi"
    assert default(terraform, "task_timeout_seconds") == 3600
    assert default(terraform, "max_retries") == 1
    assert default(terraform, "task_count") == 1
    assert default(terraform, "parallelism") == 1
    assert accepts(terraform, "memory", "512Mi")
    assert accepts(terraform, "memory", "2Gi")
    for bad in ("1G", "1024", "1.5Gi", "0Gi"):
        assert not accepts(terraform, "memory", bad), bad


def test_parallelism_is_validated_against_task_count(terraform: dict[str, Any]) -> None:
    condition = terraform["variable"]["parallelism"]["validation"][0]["condition"]
    assert "var.parallelism <= var.task_count" in condition


def test_image_must_be_pinned(terraform: dict[str, Any]) -> None:
    assert "default" not in terraform["variable"]["image"]
    digest = "sha256:" + "a" * 64
    good = [
        f"us-central1-docker.pkg.dev/p/usajobs-elt/usajobs-elt@{digest}",
        "us-central1-docker.pkg.dev/p/usajobs-elt/usajobs-elt:2026-11-27-abc1234",
        "localhost:5000/usajobs-elt:v1",
    ]
    bad = [
        "usajobs-elt",
        "us-central1-docker.pkg.dev/p/r/usajobs-elt",
        "us-central1-docker.pkg.dev/p/r/i@sha256:abc",
    ]
    condition = terraform["variable"]["image"]["validation"][0]["condition"]
    assert '!endswith(var.image, ":latest")' in condition
    for image in good:
        assert accepts(terraform, "image", image), image
    for image in bad:
        assert not accepts(terraform, "image", image), image


def test_job_mounts_cloud_sql_only_when_asked(terraform: dict[str, Any]) -> None:
    job = resource(terraform, "google_cloud_run_v2_job", "pipeline")
    volumes = block(job, "template", "template")["dynamic"][0]["volumes"]
    assert volumes["for_each"] == '${local.uses_cloudsql ? ["cloudsql"] : []}'
    assert default(terraform, "cloudsql_instance") == ""
    assert accepts(terraform, "cloudsql_instance", "my-project:us-central1:usajobs")
    assert not accepts(terraform, "cloudsql_instance", "usajobs")


# --- alerting and the rest -----------------------------------------------------------------


def test_alert_fires_on_failed_executions_of_this_job(terraform: dict[str, Any]) -> None:
    policy = resource(terraform, "google_monitoring_alert_policy", "execution_failed")
    condition = block(policy, "conditions", "condition_threshold")
    for part in (
        'resource.type = \\"cloud_run_job\\"',
        'resource.labels.job_name = \\"${google_cloud_run_v2_job.pipeline.name}\\"',
        'metric.type = \\"run.googleapis.com/job/completed_execution_count\\"',
        'metric.labels.result = \\"failed\\"',
    ):
        assert part in condition["filter"], part
    assert condition["comparison"] == "COMPARISON_GT"
    assert condition["threshold_value"] == 0
    assert policy["notification_channels"] == "${local.notification_channels}"
    assert accepts(terraform, "notification_channels", "projects/p/notificationChannels/123")


def test_silence_alerts_too_when_no_run_succeeds_for_a_day(terraform: dict[str, Any]) -> None:
    # A look-back over the whole window for a succeeded execution of this job; no sample
    # at all (nothing ran) or a sum under 1 (zeros written) both fire.
    (succeeded,) = [b["succeeded"] for b in terraform["locals"] if "succeeded" in b]
    assert succeeded.startswith("run_googleapis_com:job_completed_execution_count{")
    assert 'job_name="${google_cloud_run_v2_job.pipeline.name}"' in succeeded
    assert 'result="succeeded"' in succeeded
    policy = resource(terraform, "google_monitoring_alert_policy", "no_success")
    query = block(policy, "conditions", "condition_prometheus_query_language")["query"]
    window = "[${var.no_success_alert_hours}h]"
    assert query == (
        f"absent_over_time(${{local.succeeded}}{window})"
        f" or sum(sum_over_time(${{local.succeeded}}{window})) < 1"
    )
    assert default(terraform, "no_success_alert_hours") == 26
    assert policy["notification_channels"] == "${local.notification_channels}"


def test_no_absence_condition_waits_longer_than_monitoring_allows(
    terraform: dict[str, Any],
) -> None:
    # Cloud Monitoring refuses a metric-absence duration over 23.5 h; a daily job's
    # silence needs a PromQL look-back instead (the policy above).
    limit = 23.5 * 3600
    policies = terraform["resource"]["google_monitoring_alert_policy"]
    assert policies
    for name, policy in policies.items():
        for condition in policy["conditions"]:
            for absent in condition.get("condition_absent", []):
                duration = absent["duration"]
                assert re.fullmatch(r"\d+s", duration), f"{name}: absence of {duration}"
                assert int(duration[:-1]) <= limit, f"{name}: absence of {duration}"


def test_alerts_reach_people_by_email_and_an_optional_webhook(terraform: dict[str, Any]) -> None:
    # Both policies notify the given channels plus one email channel per address and
    # the webhook, when one is set; the webhook's URL never shows in a plan.
    (channels,) = [
        b["notification_channels"] for b in terraform["locals"] if "notification_channels" in b
    ]
    assert "var.notification_channels" in channels
    assert "google_monitoring_notification_channel.email" in channels
    assert "google_monitoring_notification_channel.webhook" in channels
    email = resource(terraform, "google_monitoring_notification_channel", "email")
    assert email["for_each"] == "${toset(var.alert_emails)}"
    assert email["type"] == "email"
    assert terraform["variable"]["alert_webhook_url"]["sensitive"] is True
    assert accepts(terraform, "alert_emails", "oncall@example.com")
    assert not accepts(terraform, "alert_emails", "oncall")
    # With no channel at all, every plan warns.
    (check,) = [
        c["alerts_reach_someone"] for c in terraform["check"] if c.get("alerts_reach_someone")
    ]
    condition = block(check, "assert")["condition"]
    for variable in ("alert_emails", "notification_channels", "alert_webhook_url"):
        assert f"var.{variable}" in condition


def test_registry_tags_are_immutable(terraform: dict[str, Any]) -> None:
    registry = resource(terraform, "google_artifact_registry_repository", "images")
    assert block(registry, "docker_config")["immutable_tags"] is True
    assert registry["format"] == "DOCKER"


def test_the_image_the_job_runs_is_never_cleaned_up(terraform: dict[str, Any]) -> None:
    registry = resource(terraform, "google_artifact_registry_repository", "images")
    keeps = {
        policy["content"][0]["id"]: policy
        for dynamic in registry["dynamic"]
        for name, policy in dynamic.items()
        if name == "cleanup_policies"
    }
    assert {keep["content"][0]["action"] for keep in keeps.values()} == {"KEEP"}
    assert keeps["keep-deployed-digest"]["for_each"].count("local.deployed_digest") == 2
    assert keeps["keep-deployed-tag"]["for_each"].count("local.deployed_tag") == 2
    # The locals' patterns pick the digest, or the tag of an image without one.
    locals_ = {key: value for block_ in terraform["locals"] for key, value in block_.items()}
    patterns = [
        re.search(r'regexall\("((?:[^"\\]|\\.)*)",', locals_[name])
        for name in ("deployed_digest", "deployed_tag")
    ]
    digest, tag = (re.compile(json.loads(f'"{found[1]}"')) for found in patterns if found)
    pinned = "europe-docker.pkg.dev/p/usajobs-elt/usajobs-elt@sha256:" + "a" * 64
    tagged = "europe-docker.pkg.dev/p/usajobs-elt/usajobs-elt:2026-12-07"
    assert [m[1] for m in digest.finditer(pinned)] == ["sha256:" + "a" * 64]
    assert [m[1] for m in tag.finditer(tagged)] == ["2026-12-07"]
    assert 'strcontains(var.image, "@") ? null' in locals_["deployed_tag"]


def test_apis_are_never_disabled_on_destroy(terraform: dict[str, Any]) -> None:
    services = resource(terraform, "google_project_service", "apis")
    assert services["disable_on_destroy"] is False


def test_every_variable_is_described_typed_and_validated(terraform: dict[str, Any]) -> None:
    for name, spec in terraform["variable"].items():
        assert spec.get("description", "").endswith("."), name
        assert "type" in spec, name
        if spec["type"] != "bool":
            assert spec.get("validation"), f"{name} has no validation"


def test_every_output_is_described(terraform: dict[str, Any]) -> None:
    for name, spec in terraform["output"].items():
        assert spec.get("description", "").endswith("."), name


# --- the YAML twin, the examples, the docs -------------------------------------------------


def test_cloudrun_yaml_matches_the_terraform_job(
    terraform: dict[str, Any], infra_dir: Path
) -> None:
    text = (infra_dir / "cloudrun-job.yaml").read_text()
    placeholders = set(re.findall(r"\$\{([A-Z_]+)\}", text))
    assert placeholders == {
        "PROJECT_ID",
        "REGION",
        "IMAGE",
        "USAJOBS_USER_AGENT",
        "API_KEY_VERSION",
        "DATABASE_URL_VERSION",
    }
    job = yaml.safe_load(text)
    name = default(terraform, "name")
    assert job["kind"] == "Job"
    assert job["metadata"]["name"] == name
    execution = job["spec"]["template"]["spec"]
    task = execution["template"]["spec"]
    container = task["containers"][0]
    assert execution["taskCount"] == default(terraform, "task_count")
    assert execution["parallelism"] == default(terraform, "parallelism")
    assert task["timeoutSeconds"] == default(terraform, "task_timeout_seconds")
    assert task["maxRetries"] == default(terraform, "max_retries")
    assert task["serviceAccountName"] == f"{name}-run@${{PROJECT_ID}}.iam.gserviceaccount.com"
    assert container["resources"]["limits"] == {
        "cpu": default(terraform, "cpu"),
        "memory": default(terraform, "memory"),
    }
    yaml_env = {entry["name"]: entry for entry in container["env"]}
    assert set(yaml_env) == set(env_by_name(job_container(terraform)))
    secrets = terraform["resource"]["google_secret_manager_secret"]
    for env_name, secret in (
        ("TAP_USAJOBS_API_KEY", "usajobs_api_key"),
        ("DATABASE_URL", "database_url"),
    ):
        ref = yaml_env[env_name]["valueFrom"]["secretKeyRef"]
        assert ref["name"] == secrets[secret]["secret_id"].replace("${var.name}", name)
        assert ref["key"] in {"${API_KEY_VERSION}", "${DATABASE_URL_VERSION}"}
    assert yaml_env["MELTANO_ENVIRONMENT"]["value"] == "prod"
    assert yaml_env["USAJOBS_LOG_FORMAT"]["value"] == "json"
    assert yaml_env["USAJOBS_IMAGE"]["value"] == "${IMAGE}"


def test_tfvars_example_sets_every_required_variable_validly(
    terraform: dict[str, Any], infra_dir: Path
) -> None:
    example = load_file(infra_dir / "terraform.tfvars.example")
    variables = terraform["variable"]
    assert set(example) <= set(variables), set(example) - set(variables)
    required = {name for name, spec in variables.items() if "default" not in spec}
    assert required <= set(example), required - set(example)
    for name, value in example.items():
        if isinstance(value, str):
            assert all(pattern.search(value) for pattern in regex_rules(terraform, name)), name


def test_readme_tables_match_the_terraform(infra_dir: Path) -> None:
    current = (infra_dir / "README.md").read_text(encoding="utf-8")
    assert render_readme(current) == current, "run `make infra-docs`"


def test_deploy_guide_uses_the_names_terraform_creates(
    terraform: dict[str, Any], infra_dir: Path
) -> None:
    guide = (infra_dir.parent / "docs" / "deploy-gcp.md").read_text(encoding="utf-8")
    name = default(terraform, "name")
    created = [
        *(
            spec["secret_id"]
            for spec in terraform["resource"]["google_secret_manager_secret"].values()
        ),
        *(spec["account_id"] for spec in terraform["resource"]["google_service_account"].values()),
        resource(terraform, "google_cloud_scheduler_job", "pipeline")["name"],
        resource(terraform, "google_artifact_registry_repository", "images")["repository_id"],
    ]
    for template in created:
        assert template.replace("${var.name}", name) in guide, template
    assert "terraform validate" in guide, "the guide must say validate has not run here"
    for target in (
        "google_artifact_registry_repository.images",
        "google_secret_manager_secret.database_url",
    ):
        assert f"-target={target}" in guide


def test_the_canary_dry_runs_its_image_with_the_jobs_identity_secrets_and_settings(
    terraform: dict[str, Any],
) -> None:
    canary = resource(terraform, "google_cloud_run_v2_job", "canary")
    job = resource(terraform, "google_cloud_run_v2_job", "pipeline")
    assert canary["count"] == '${var.canary_image == "" ? 0 : 1}'
    assert canary["name"] == "${var.name}-canary"
    container = block(canary, "template", "template", "containers")
    assert container["image"] == "${var.canary_image}"
    assert container["args"] == ["--dry-run"]  # loads nothing, saves no state
    assert block(canary, "template", "template")["max_retries"] == 0
    for shared in ("service_account", "execution_environment", "timeout"):
        assert (
            block(canary, "template", "template")[shared]
            == block(job, "template", "template")[shared]
        )
    # Every setting of the job but the dashboard's upload, which a dry run never does;
    # each records the image it runs.
    env, job_env = env_by_name(container), env_by_name(job_container(terraform))
    assert set(env) == set(job_env) - {"DASHBOARD_BUCKET"}
    assert env.pop("USAJOBS_IMAGE")["value"] == "${var.canary_image}"
    assert job_env["USAJOBS_IMAGE"]["value"] == "${var.image}"
    assert all(env[name] == job_env[name] for name in env)
    assert container["dynamic"] == job_container(terraform)["dynamic"]
    rules = regex_rules(terraform, "canary_image")
    good = "us-docker.pkg.dev/p/r/usajobs-elt@sha256:" + "a" * 64
    assert all(rule.match(good) for rule in rules)
    assert not any(rule.match("usajobs-elt") for rule in rules)
