with

jobs as (

    select * from {{ ref('stg_usajobs__jobs') }}

),

named as (

    select
        jobs.*,
        -- "DD/ARAF": the department, then the agency sub-element that hires.
        split_part(organization_codes, '/', -1) as agency_subelement_code
    from jobs

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
        agency_subelement_code,
        {{ code_list_name('agency_subelements', 'agency_subelement_code') }} as agency_subelement_name,
        location_display,
        locations,
        occupational_series_codes,
        {{ code_list_names('occupational_series', 'occupational_series_codes') }}
            as occupational_series_names,
        pay_plan_codes,
        {{ code_list_names('pay_plans', 'pay_plan_codes') }} as pay_plan_names,
        position_schedules,
        position_schedule_codes,
        {{ code_list_names('position_schedule_types', 'position_schedule_codes') }}
            as position_schedule_names,
        hiring_paths,
        {{ code_list_names('hiring_paths', 'hiring_paths') }} as hiring_path_names,
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
    from named

)

select * from final
