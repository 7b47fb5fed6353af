with

source as (

    {{ source_or_empty('usajobs', 'jobs_keywords') }}

),

renamed as (

    select
        "MatchedObjectId"::bigint as control_number,
        keyword,
        scan_version as last_matched_scan_version,
        _sdc_batched_at as loaded_at
    from source

)

select * from renamed
