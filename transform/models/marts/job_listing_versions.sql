{{
    config(
        materialized='incremental',
        unique_key='version_id',
        on_schema_change='fail',
    )
}}

{#-
    Slowly changing history of the fields that matter to applicants: a new row whenever
    a posting's title, close date, pay or location text differs from its latest version.
    Built as an incremental model rather than a dbt snapshot so that a plain `dbt run`
    keeps it current.
-#}

with

jobs as (

    select
        stg_jobs.*,
        salaries.salary_min,
        salaries.salary_max,
        salaries.rate_interval_code
    from {{ ref('stg_usajobs__jobs') }} as stg_jobs
    left join {{ ref('int_salaries') }} as salaries
        on stg_jobs.control_number = salaries.control_number

),

current_versions as (

    select
        control_number,
        position_title,
        closes_at,
        salary_min,
        salary_max,
        rate_interval_code,
        location_display,
        md5(
            concat_ws(
                '|',
                position_title,
                closes_at::text,
                salary_min::text,
                salary_max::text,
                rate_interval_code,
                location_display
            )
        ) as row_hash,
        loaded_at as valid_from
    from jobs

),

{% if is_incremental() %}

latest_versions as (

    select distinct on (control_number)
        control_number,
        row_hash
    from {{ this }}
    order by control_number asc, valid_from desc

),

changed as (

    select current_versions.*
    from current_versions
    left join latest_versions
        on current_versions.control_number = latest_versions.control_number
    where latest_versions.row_hash is distinct from current_versions.row_hash

),

{% else %}

changed as (

    select * from current_versions

),

{% endif %}

final as (

    select
        md5(control_number::text || '|' || row_hash || '|' || valid_from::text) as version_id,
        *
    from changed

)

select * from final
