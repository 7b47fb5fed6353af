with

locations as (

    select * from {{ ref('int_job_locations') }}

),

listings as (

    select
        control_number,
        is_remote,
        is_telework_eligible,
        is_open
    from {{ ref('job_listings') }}

),

final as (

    select
        locations.control_number,
        locations.location_position,
        locations.location_name,
        locations.city,
        locations.state,
        locations.country,
        locations.latitude,
        locations.longitude,
        locations.is_overseas,
        locations.is_negotiable,
        listings.is_remote,
        listings.is_telework_eligible,
        listings.is_open
    from locations
    inner join listings
        on locations.control_number = listings.control_number

)

select * from final
