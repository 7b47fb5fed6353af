{#-
    One row per Search posting and location entry, in the API's order. The API's quirks
    are undone here: CountryCode holds the country's name and CountrySubDivisionCode the
    state's ("N/A" abroad), CityName is "City, State", and a negotiable location comes
    at 0/0, which is not a place.
-#}

with

jobs as (

    select * from {{ ref('stg_usajobs__jobs') }}

),

entries as (

    select
        jobs.control_number,
        place.location_position,
        place.entry
    from jobs
    cross join lateral jsonb_array_elements(jobs.position_locations)
        with ordinality as place (entry, location_position)

),

parsed as (

    select
        control_number,
        location_position,
        nullif(entry ->> 'LocationName', '') as location_name,
        nullif(trim(split_part(entry ->> 'CityName', ',', 1)), '') as city,
        nullif(nullif(entry ->> 'CountrySubDivisionCode', ''), 'N/A') as state,
        nullif(entry ->> 'CountryCode', '') as country,
        {{ json_number("entry -> 'Latitude'") }} as latitude,
        {{ json_number("entry -> 'Longitude'") }} as longitude
    from entries

),

final as (

    select
        control_number,
        location_position,
        location_name,
        coalesce(location_name ilike '%negotiable%', false)
            or (latitude = 0 and longitude = 0) as is_negotiable,
        case when location_name ilike '%negotiable%' then null else city end as city,
        state,
        country,
        country <> 'United States' as is_overseas,
        case when latitude = 0 and longitude = 0 then null else latitude end as latitude,
        case when latitude = 0 and longitude = 0 then null else longitude end as longitude
    from parsed

)

select * from final
