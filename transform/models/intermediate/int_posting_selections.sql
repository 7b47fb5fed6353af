{#-
    When a selection became known, per announcement: the first load that saw the status
    "Candidate selected" after a load had seen it still open or under review. When the
    first status we ever saw was already "Candidate selected", when it happened is not
    known, and there is no row.
-#}

with

history as (

    select
        control_number,
        position_opening_status,
        valid_from,
        min(valid_from) over (partition by control_number) as first_seen_at
    from {{ ref('posting_status_history') }}

),

final as (

    select
        control_number,
        min(valid_from) as selection_detected_at
    from history
    where position_opening_status = 'Candidate selected'
        and valid_from > first_seen_at
    group by control_number

)

select * from final
