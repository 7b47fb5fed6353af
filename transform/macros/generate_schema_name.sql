{#-
    Use a model's custom schema as given (`staging`), not dbt's default
    `<target_schema>_<custom>`: the marts then sit in the target schema itself, so
    `select count(*) from job_listings` works with the default search_path.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
