with

jobs as (

    select * from {{ ref('stg_usajobs__jobs') }}

),

salaries as (

    select * from {{ ref('int_salaries') }}

),

locations as (

    select
        control_number,
        count(*) as location_count,
        array_agg(distinct state order by state) filter (where state is not null) as states,
        bool_or(is_overseas) as has_overseas_location
    from {{ ref('int_job_locations') }}
    group by control_number

),

keywords as (

    select control_number, array_agg(keyword order by keyword) as matched_keywords
    from {{ ref('stg_usajobs__jobs_keywords') }}
    group by control_number

),

-- Search does not say whether a job is supervisory; Historic JOA does, for the
-- postings it lists.
historic as (

    select control_number, is_supervisory
    from {{ ref('stg_usajobs__historic_jobs') }}

),

named as (

    select
        jobs.*,
        -- "DD/ARAF": the department, then the agency sub-element that hires.
        split_part(jobs.organization_codes, '/', -1) as agency_subelement_code,
        jobs.pay_plan_codes[1] as pay_plan_code,
        jobs.occupational_series_codes[1] as occupational_series_code
    from jobs

),

final as (

    select
        named.control_number,
        named.announcement_number,
        named.position_title,
        named.position_uri,
        named.apply_uri,
        named.organization_name,
        named.department_name,
        named.sub_agency_name,
        named.agency_subelement_code,
        {{ code_list_name('agency_subelements', 'named.agency_subelement_code') }}
            as agency_subelement_name,
        named.location_display,
        named.locations,
        coalesce(locations.location_count, 0) as location_count,
        coalesce(locations.states, '{}') as states,
        coalesce(locations.has_overseas_location, false) as has_overseas_location,
        named.occupational_series_code,
        named.occupational_series_codes,
        {{ code_list_names('occupational_series', 'named.occupational_series_codes') }}
            as occupational_series_names,
        {{ code_list_name(
            'occupational_series', 'named.occupational_series_code', 'job_family_code'
        ) }} as job_family_code,
        named.pay_plan_code,
        named.pay_plan_codes,
        {{ code_list_names('pay_plans', 'named.pay_plan_codes') }} as pay_plan_names,
        named.low_grade,
        named.high_grade,
        {{ grade_number('named.low_grade') }} as low_grade_number,
        {{ grade_number('named.high_grade') }} as high_grade_number,
        {{ grade_display('named.pay_plan_code', 'named.low_grade', 'named.high_grade') }}
            as grade_display,
        named.promotion_potential,
        {{ grade_number('named.promotion_potential') }} as promotion_potential_number,
        named.total_openings,
        case when named.total_openings ~ '^\s*\d+\s*$' then trim(named.total_openings)::integer end
            as total_openings_count,
        named.position_schedules,
        named.position_schedule_codes,
        {{ code_list_names('position_schedule_types', 'named.position_schedule_codes') }}
            as position_schedule_names,
        named.position_offering_type_codes,
        {{ code_list_names('position_offering_types', 'named.position_offering_type_codes') }}
            as position_offering_type_names,
        named.hiring_paths,
        {{ code_list_names('hiring_paths', 'named.hiring_paths') }} as hiring_path_names,
        named.who_may_apply_code,
        coalesce(
            named.who_may_apply_name,
            trim({{ code_list_name('who_may_apply', 'named.who_may_apply_code') }})
        ) as who_may_apply_name,
        named.security_clearance,
        named.position_sensitivity,
        named.travel_code,
        {{ code_list_name('travel_percentages', 'named.travel_code') }} as travel_requirement,
        named.service_type_code,
        {{ code_list_name('service_types', 'named.service_type_code') }} as service_type,
        named.closing_type_code,
        named.closing_type_option,
        salaries.salary_min,
        salaries.salary_max,
        salaries.rate_interval_code,
        salaries.rate_interval_description,
        salaries.annual_salary_min,
        salaries.annual_salary_max,
        named.is_telework_eligible,
        named.is_remote,
        historic.is_supervisory,
        named.offers_relocation,
        named.requires_drug_test,
        coalesce(keywords.matched_keywords, '{}') as matched_keywords,
        named.published_at,
        named.closes_at,
        named.position_starts_at,
        named.position_ends_at,
        named.deleted_at is null as is_open,
        named.deleted_at as closed_detected_at,
        named.extracted_at as last_seen_at
    from named
    left join salaries
        on named.control_number = salaries.control_number
    left join locations
        on named.control_number = locations.control_number
    left join historic
        on named.control_number = historic.control_number
    left join keywords
        on named.control_number = keywords.control_number

)

select * from final
