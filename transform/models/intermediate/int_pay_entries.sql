{#-
    One row per pay range as the APIs send it: Search lists one or more remuneration
    entries per posting, Historic JOA one range per announcement. Both sources meet here
    so that one salary rule (int_salaries) serves job_listings, historic_job_listings
    and postings alike.
-#}

with

search_jobs as (

    select * from {{ ref('stg_usajobs__jobs') }}

),

historic_jobs as (

    select * from {{ ref('stg_usajobs__historic_jobs') }}

),

search_entries as (

    select
        'search' as source,
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

historic_entries as (

    select
        'historic' as source,
        control_number,
        1::bigint as entry_position,
        salary_min as minimum_range,
        salary_max as maximum_range,
        rate_interval_raw,
        null::text as rate_interval_description
    from historic_jobs

),

unioned as (

    select * from search_entries
    union all
    select * from historic_entries

),

final as (

    select
        *,
        {{ normalize_rate_interval('rate_interval_raw') }} as rate_interval_code
    from unioned

)

select * from final
