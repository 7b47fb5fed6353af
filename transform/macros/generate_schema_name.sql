{#-
    Use a model's custom schema as given (`staging`), not dbt's default
    `<target_schema>_<custom>`: the marts then sit in the target schema itself, so
    `select count(*) from job_listings` works with the default search_path. In a
    write-audit-publish build (macros/wap.sql) the marts go to the audit schema instead.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is not none -%}
        {{ custom_schema_name | trim }}
    {%- elif var('wap', false) -%}
        {{ audit_schema() }}
    {%- else -%}
        {{ target.schema }}
    {%- endif -%}
{%- endmacro %}
