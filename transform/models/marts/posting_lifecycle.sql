{#-
    The life of each posting, one row per control number: when it was first seen,
    published, due to close (first and last), how often its close date moved, when its
    closure was detected, how it ended, and how long the selection took where that is
    known.
-#}

with

postings as (

    select * from {{ ref('postings') }}

),

close_dates as (

    select * from {{ ref('int_posting_close_dates') }}

),

selections as (

    select * from {{ ref('int_posting_selections') }}

),

status_history as (

    select
        control_number,
        min(valid_from) as first_seen_at
    from {{ ref('posting_status_history') }}
    group by control_number

),

listings as (

    select control_number, closed_detected_at
    from {{ ref('job_listings') }}

),

final as (

    select
        postings.control_number,
        least(close_dates.first_seen_at, status_history.first_seen_at) as first_seen_at,
        postings.opened_on as published_on,
        coalesce(close_dates.original_closes_at::date, postings.closes_on) as original_closes_on,
        postings.closes_on as final_closes_on,
        coalesce(close_dates.close_date_extensions, 0) as close_date_extensions,
        coalesce(close_dates.is_reopened, false) as is_reopened,
        postings.closes_on - postings.opened_on as days_open,
        listings.closed_detected_at,
        -- The last day the posting took applications: its close date, or the day its
        -- closure was detected when that came first (a posting withdrawn early).
        least(postings.closes_on, listings.closed_detected_at::date) as last_open_on,
        postings.status,
        case postings.position_opening_status
            when 'Candidate selected' then 'selected'
            when 'Job canceled' then 'cancelled'
            when 'Job closed' then 'closed'
        end as final_status,
        selections.selection_detected_at,
        selections.selection_detected_at::date - postings.closes_on as days_close_to_selection
    from postings
    left join close_dates
        on postings.control_number = close_dates.control_number
    left join status_history
        on postings.control_number = status_history.control_number
    left join selections
        on postings.control_number = selections.control_number
    left join listings
        on postings.control_number = listings.control_number

)

select * from final
