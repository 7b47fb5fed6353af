-- How many fully remote IT management (2210) jobs at GS-13 or above opened in the last
-- 30 days, by state, and how long do they stay open? A posting listed in two states
-- counts in each; "GS-13 or above" is the top of its grade range.
with

wanted as (

    select control_number
    from {{ ref('job_listings') }}
    where pay_plan_code = 'GS'
        and high_grade_number >= 13
        and '2210' = any(occupational_series_codes)
        and is_remote
        and published_at >= current_date - 30

),

by_state as (

    select distinct locations.state, locations.control_number
    from {{ ref('job_listing_locations') }} as locations
    inner join wanted
        on locations.control_number = wanted.control_number
    where locations.state is not null

)

select
    by_state.state,
    count(*) as postings,
    percentile_cont(0.5) within group (order by lifecycle.days_open) as median_days_open
from by_state
inner join {{ ref('posting_lifecycle') }} as lifecycle
    on by_state.control_number = lifecycle.control_number
group by by_state.state
order by postings desc, by_state.state asc
