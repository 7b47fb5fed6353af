{#-
    USAJobs code lists (`stg_usajobs__<list>`, one per tap stream such as `pay_plans`).

    `stage_code_list` is the whole of every code list's staging model: the lists share
    one shape (Code, Value, LastModified, IsDisabled, plus a few list-specific fields),
    so the model files only name their list. Codes that left the list stay, with
    `is_deleted` (target-postgres soft-deletes them on ACTIVATE_VERSION): old postings
    still carry them.

    `code_list_name` and `code_list_names` look up what codes mean, e.g.
        {{ code_list_names('occupational_series', 'jobs.occupational_series_codes') }}
    and `code_list_name` another of the list's columns too:
        {{ code_list_name('occupational_series', 'series_code', 'job_family_code') }}
    Codes compare case-insensitively: Search sends hiring paths in lower case
    (fed-competitive), the code list in upper case (FED-COMPETITIVE).
-#}

{% macro stage_code_list(table_name, extra_columns={}) -%}
with

source as (

    {{ source_or_empty('usajobs', table_name) }}

),

-- target-postgres upserts on the code; keep the newest load per code anyway.
deduplicated as (

    select distinct on ("Code") *
    from source
    order by "Code", _sdc_batched_at desc nulls last

),

renamed as (

    select

        ---------- ids
        "Code" as code,

        ---------- strings
        "Value" as name,
        {%- for raw, column in extra_columns.items() %}
        nullif("{{ raw }}", '') as {{ column }},
        {%- endfor %}

        ---------- booleans
        "IsDisabled" as is_disabled,
        _sdc_deleted_at is not null as is_deleted,

        ---------- timestamps
        "LastModified" as last_modified_at,
        _sdc_deleted_at as deleted_at,
        _sdc_batched_at as loaded_at

    from deduplicated

)

select * from renamed
{%- endmacro %}


{#-
    The lookups read each code list once per query, whatever the row count: the list is
    folded into one jsonb object {UPPER(code): name} by an uncorrelated scalar subquery,
    which PostgreSQL evaluates once (an InitPlan) and then probes per row. Joining the
    staging view per row instead re-ran the view for every posting: job_listings took
    17.5 s for 20,000 postings that way (docs/performance.md, "dbt").
-#}
{% macro code_list_map(code_list, column='name') -%}
    (
        select coalesce(jsonb_object_agg(upper(code_list.code), code_list.{{ column }}), '{}'::jsonb)
        from {{ ref('stg_usajobs__' ~ code_list) }} as code_list
        where code_list.code is not null
    )
{%- endmacro %}


{% macro code_list_name(code_list, code, column='name') -%}
    ({{ code_list_map(code_list, column) }} ->> upper({{ code }}))
{%- endmacro %}


{% macro code_list_names(code_list, codes) -%}
    array(
        select {{ code_list_map(code_list) }} ->> upper(wanted.code)
        from unnest({{ codes }}) with ordinality as wanted (code, position)
        where {{ code_list_map(code_list) }} ? upper(wanted.code)
        order by wanted.position
    )
{%- endmacro %}
