{#-
    One row per remuneration entry of a Search posting (one or more each), as sent.
    Historic JOA sends one range per announcement, so historic_job_listings applies the
    same per-year factor directly and builds without Search's tables (a backfill into a
    new database has none).
-#}

with

search_jobs as (

    select * from {{ ref('stg_usajobs__jobs') }}

),

entries as (

    select
        search_jobs.control_number,
        pay.entry_position,
        {{ json_number("pay.entry -> 'MinimumRange'") }} as minimum_range,
        {{ json_number("pay.entry -> 'MaximumRange'") }} as maximum_range,
        pay.entry ->> 'RateIntervalCode' as rate_interval_raw,
        pay.entry ->> 'Description' as rate_interval_description
    from search_jobs
    cross join lateral jsonb_array_elements(search_jobs.remuneration)
        with ordinality as pay (entry, entry_position)

),

final as (

    select
        *,
        {{ normalize_rate_interval('rate_interval_raw') }} as rate_interval_code
    from entries

)

select * from final
