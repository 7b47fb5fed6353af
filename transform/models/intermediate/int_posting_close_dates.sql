{#-
    What the versions of a Search posting say about its close date: the first one seen,
    the latest, how often it was moved later (an extension), and whether it was moved
    later after it had passed (a reopening: the posting had closed, then took
    applications again).
-#}

with

versions as (

    select
        control_number,
        closes_at,
        valid_from,
        lag(closes_at) over (partition by control_number order by valid_from)
            as previous_closes_at
    from {{ ref('job_listing_versions') }}

),

final as (

    select
        control_number,
        min(valid_from) as first_seen_at,
        (array_agg(closes_at order by valid_from))[1] as original_closes_at,
        (array_agg(closes_at order by valid_from desc))[1] as latest_closes_at,
        count(*) filter (where closes_at > previous_closes_at) as close_date_extensions,
        coalesce(bool_or(closes_at > previous_closes_at and valid_from > previous_closes_at), false)
            as is_reopened
    from versions
    group by control_number

)

select * from final
