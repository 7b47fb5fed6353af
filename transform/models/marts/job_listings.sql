with

jobs as (

    select * from {{ ref('stg_usajobs__jobs') }}

),

final as (

    select
        control_number,
        announcement_number,
        position_title,
        position_uri,
        apply_uri,
        organization_name,
        department_name,
        sub_agency_name,
        location_display,
        locations,
        occupational_series_codes,
        pay_plan_codes,
        position_schedules,
        hiring_paths,
        salary_min,
        salary_max,
        rate_interval_code,
        rate_interval_description,
        annual_salary_min,
        annual_salary_max,
        is_telework_eligible,
        is_remote,
        published_at,
        closes_at,
        deleted_at is null as is_open,
        deleted_at as closed_detected_at,
        extracted_at as last_seen_at
    from jobs

)

select * from final
