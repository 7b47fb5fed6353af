{#-
    Postings opened, open and closed per day, by agency, occupational series and state:
    one row per dimension, value and day on which a posting of that value opened or
    closed. Days without either have no row; the value's `open` carries over from its
    previous row. A posting with two series or two states counts once under each.

    Same events and running sums as daily_postings, and rebuilt by every run for the
    same reason.
-#}

with

postings as (

    select * from {{ ref('postings') }}

),

lifecycle as (

    select control_number, published_on, last_open_on
    from {{ ref('posting_lifecycle') }}
    where published_on is not null

),

dimensions as (

    select control_number, 'agency' as dimension, agency_name as value
    from postings
    where agency_name is not null

    union all

    select
        postings.control_number,
        'occupational_series' as dimension,
        series.code as value
    from postings
    cross join lateral unnest(postings.occupational_series_codes) as series (code)

    union all

    select
        postings.control_number,
        'state' as dimension,
        place.state as value
    from postings
    cross join lateral unnest(postings.states) as place (state)

),

events as (

    select
        dimensions.dimension,
        dimensions.value,
        lifecycle.published_on as day,
        1 as opened,
        0 as closed
    from dimensions
    inner join lifecycle
        on dimensions.control_number = lifecycle.control_number

    union all

    select
        dimensions.dimension,
        dimensions.value,
        lifecycle.last_open_on as day,
        0 as opened,
        1 as closed
    from dimensions
    inner join lifecycle
        on dimensions.control_number = lifecycle.control_number
    where lifecycle.last_open_on < current_date

),

daily as (

    select
        dimension,
        value,
        day,
        sum(opened)::bigint as opened,
        sum(closed)::bigint as closed
    from events
    group by dimension, value, day

),

final as (

    select
        dimension,
        value,
        case when dimension = 'occupational_series'
            then {{ code_list_name('occupational_series', 'value') }}
        end as value_name,
        day,
        opened,
        sum(opened) over running - sum(closed) over running + closed as open,
        closed
    from daily
    window running as (
        partition by dimension, value order by day rows between unbounded preceding and current row
    )

)

select * from final
