{#- job_listing_locations has exactly one row per location entry the API sent. -#}
with

sent as (

    select control_number, jsonb_array_length(position_locations) as entries
    from {{ ref('stg_usajobs__jobs') }}

),

kept as (

    select control_number, count(*) as entries
    from {{ ref('job_listing_locations') }}
    group by control_number

)

select sent.control_number, sent.entries as sent, coalesce(kept.entries, 0) as kept
from sent
left join kept
    on sent.control_number = kept.control_number
where sent.entries <> coalesce(kept.entries, 0)
