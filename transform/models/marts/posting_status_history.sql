{{
    config(
        materialized='incremental',
        unique_key='status_version_id',
        on_schema_change='fail',
    )
}}

{#-
    Every status Historic JOA has given an announcement, and the load that first saw
    it: a new row whenever positionOpeningStatus differs from the latest one kept.
    Historic JOA keeps only the current status, so this history is what tells when a
    candidate was selected (posting_lifecycle). Incremental for the same reason as
    job_listing_versions: a plain `dbt run` keeps it current.
-#}

with

historic_jobs as (

    select
        control_number,
        position_opening_status,
        loaded_at as valid_from
    from {{ ref('stg_usajobs__historic_jobs') }}
    where position_opening_status is not null

),

{% if is_incremental() %}

latest as (

    select distinct on (control_number)
        control_number,
        position_opening_status
    from {{ this }}
    order by control_number asc, valid_from desc

),

changed as (

    select historic_jobs.*
    from historic_jobs
    left join latest
        on historic_jobs.control_number = latest.control_number
    where latest.position_opening_status is distinct from historic_jobs.position_opening_status

),

{% else %}

changed as (

    select * from historic_jobs

),

{% endif %}

final as (

    select
        md5(control_number::text || '|' || position_opening_status || '|' || valid_from::text)
            as status_version_id,
        control_number,
        position_opening_status,
        valid_from
    from changed

)

select * from final
