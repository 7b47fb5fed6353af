with

historic_jobs as (

    select * from {{ ref('stg_usajobs__historic_jobs') }}

),

announcement_texts as (

    select control_number from {{ ref('stg_usajobs__announcement_texts') }}

),

final as (

    select
        historic_jobs.control_number,
        historic_jobs.announcement_number,
        historic_jobs.position_title,
        historic_jobs.hiring_agency_code,
        coalesce(
            historic_jobs.hiring_agency_name,
            {{ code_list_name('agency_subelements', 'historic_jobs.hiring_agency_code') }}
        ) as hiring_agency_name,
        historic_jobs.hiring_department_code,
        coalesce(
            historic_jobs.hiring_department_name,
            {{ code_list_name('agency_subelements', 'historic_jobs.hiring_department_code') }}
        ) as hiring_department_name,
        historic_jobs.hiring_subelement_name,
        historic_jobs.occupational_series_codes,
        {{ code_list_names('occupational_series', 'historic_jobs.occupational_series_codes') }}
            as occupational_series_names,
        historic_jobs.pay_plan_code,
        {{ code_list_name('pay_plans', 'historic_jobs.pay_plan_code') }} as pay_plan_name,
        historic_jobs.low_grade,
        historic_jobs.high_grade,
        {{ grade_number('historic_jobs.low_grade') }} as low_grade_number,
        {{ grade_number('historic_jobs.high_grade') }} as high_grade_number,
        {{ grade_display(
            'historic_jobs.pay_plan_code', 'historic_jobs.low_grade', 'historic_jobs.high_grade'
        ) }} as grade_display,
        historic_jobs.promotion_potential,
        historic_jobs.appointment_type,
        historic_jobs.work_schedule,
        historic_jobs.service_type,
        historic_jobs.hiring_paths,
        historic_jobs.locations,
        historic_jobs.states,
        historic_jobs.total_openings,
        historic_jobs.security_clearance,
        historic_jobs.travel_requirement,
        historic_jobs.salary_min,
        historic_jobs.salary_max,
        historic_jobs.rate_interval_code,
        historic_jobs.rate_interval_raw as salary_type,
        -- One range per announcement: per year is the project's one factor (macros/salary.sql).
        historic_jobs.salary_min * {{ annualization_factor('historic_jobs.rate_interval_code') }}
            as annual_salary_min,
        historic_jobs.salary_max * {{ annualization_factor('historic_jobs.rate_interval_code') }}
            as annual_salary_max,
        historic_jobs.is_supervisory,
        historic_jobs.is_telework_eligible,
        historic_jobs.requires_security_clearance,
        historic_jobs.requires_drug_test,
        historic_jobs.reimburses_relocation,
        historic_jobs.is_apply_online_disabled,
        historic_jobs.position_opening_status,
        historic_jobs.is_status_final,
        historic_jobs.closing_type,
        historic_jobs.hiring_system,
        historic_jobs.opened_on,
        historic_jobs.closes_on,
        historic_jobs.expires_on,
        announcement_texts.control_number is not null as has_announcement_text,
        historic_jobs.loaded_at as last_loaded_at
    from historic_jobs
    left join announcement_texts
        on historic_jobs.control_number = announcement_texts.control_number

)

select * from final
