{#- What changed on a posting, and when: one row per changed field per new version. -#}

with

versions as (

    select
        *,
        lag(position_title) over by_posting as previous_position_title,
        lag(closes_at) over by_posting as previous_closes_at,
        lag(salary_min) over by_posting as previous_salary_min,
        lag(salary_max) over by_posting as previous_salary_max,
        lag(rate_interval_code) over by_posting as previous_rate_interval_code,
        lag(location_display) over by_posting as previous_location_display,
        row_number() over by_posting as version_number
    from {{ ref('job_listing_versions') }}
    window by_posting as (partition by control_number order by valid_from)

),

changes as (

    select
        versions.control_number,
        versions.valid_from as changed_at,
        field.name as field,
        field.previous_value,
        field.new_value
    from versions
    cross join lateral (
        values
            ('position_title', previous_position_title, position_title),
            ('closes_at', previous_closes_at::text, closes_at::text),
            ('salary_min', previous_salary_min::text, salary_min::text),
            ('salary_max', previous_salary_max::text, salary_max::text),
            ('rate_interval_code', previous_rate_interval_code, rate_interval_code),
            ('location_display', previous_location_display, location_display)
    ) as field (name, previous_value, new_value)
    where versions.version_number > 1
        and field.previous_value is distinct from field.new_value

),

final as (

    select * from changes

)

select * from final
