{#-
    Postings opened, open and closed per day, every day from the first posting to today.

    Built from two events per posting (opened on its publication day, closed after its
    last open day, posting_lifecycle.last_open_on) and running sums over them, so a
    rebuild costs one pass over the postings, not one per posting and day. That is
    why this is a table rebuilt by every run rather than an incremental model: a close
    date extended today changes the counts of past days, and a rebuild is correct by
    construction (ADR 17).
-#}

with

lifecycle as (

    select published_on, last_open_on
    from {{ ref('posting_lifecycle') }}
    where published_on is not null

),

days as (

    select generate_series(min(published_on), current_date, interval '1 day')::date as day
    from lifecycle
    having min(published_on) is not null

),

opened as (

    select published_on as day, count(*) as opened
    from lifecycle
    group by published_on

),

closed as (

    -- Closed at the end of its last open day; one still open today has not closed.
    select last_open_on as day, count(*) as closed
    from lifecycle
    where last_open_on < current_date
    group by last_open_on

),

counted as (

    select
        days.day,
        coalesce(opened.opened, 0) as opened,
        coalesce(closed.closed, 0) as closed
    from days
    left join opened
        on days.day = opened.day
    left join closed
        on days.day = closed.day

),

final as (

    select
        day,
        opened,
        -- Open at any time of the day: opened by then, and not closed before it.
        sum(opened) over running - sum(closed) over running + closed as open,
        closed
    from counted
    window running as (order by day rows between unbounded preceding and current row)

)

select * from final
