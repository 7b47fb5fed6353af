{#-
    daily_postings counts open postings with running sums; over the last 60 days, each
    day's count must equal a direct count of the postings open on it.
-#}
with

lifecycle as (

    select published_on, last_open_on
    from {{ ref('posting_lifecycle') }}
    where published_on is not null

),

direct as (

    select
        daily.day,
        daily.open,
        (
            select count(*)
            from lifecycle
            where lifecycle.published_on <= daily.day
                and lifecycle.last_open_on >= daily.day
        ) as counted
    from {{ ref('daily_postings') }} as daily
    where daily.day > current_date - 60

)

select * from direct
where open <> counted
