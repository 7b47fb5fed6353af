{#-
    Every posting ever loaded, one row per control number, from either API: Search (the
    current postings) and Historic JOA (every announcement, open or closed). Where both
    have it, the current Search record wins field by field, and Historic JOA fills what
    Search does not send (whether the job is supervisory, the final status).
-#}

with

search as (

    select * from {{ ref('job_listings') }}

),

historic as (

    select * from {{ ref('historic_job_listings') }}

),

joined as (

    select
        coalesce(search.control_number, historic.control_number) as control_number,
        coalesce(search.announcement_number, historic.announcement_number) as announcement_number,
        coalesce(search.position_title, historic.position_title) as position_title,
        coalesce(search.agency_subelement_code, historic.hiring_agency_code) as agency_code,
        coalesce(search.organization_name, historic.hiring_agency_name) as agency_name,
        coalesce(search.department_name, historic.hiring_department_name) as department_name,
        coalesce(search.occupational_series_codes, historic.occupational_series_codes)
            as occupational_series_codes,
        coalesce(search.occupational_series_names, historic.occupational_series_names)
            as occupational_series_names,
        coalesce(search.pay_plan_code, historic.pay_plan_code) as pay_plan_code,
        coalesce(search.low_grade_number, historic.low_grade_number) as low_grade_number,
        coalesce(search.high_grade_number, historic.high_grade_number) as high_grade_number,
        coalesce(search.grade_display, historic.grade_display) as grade_display,
        coalesce(search.total_openings, historic.total_openings) as total_openings,
        coalesce(search.security_clearance, historic.security_clearance) as security_clearance,
        coalesce(search.rate_interval_code, historic.rate_interval_code) as rate_interval_code,
        coalesce(search.annual_salary_min, historic.annual_salary_min) as annual_salary_min,
        coalesce(search.annual_salary_max, historic.annual_salary_max) as annual_salary_max,
        coalesce(search.is_telework_eligible, historic.is_telework_eligible)
            as is_telework_eligible,
        search.is_remote,
        coalesce(search.is_supervisory, historic.is_supervisory) as is_supervisory,
        coalesce(search.states, historic.states, '{}') as states,
        coalesce(search.published_at::date, historic.opened_on) as opened_on,
        coalesce(search.closes_at::date, historic.closes_on) as closes_on,
        historic.position_opening_status,
        -- Open: taking applications today by the current record (listed in Search, or
        -- accepting applications in Historic JOA, and not past its close date). Else
        -- how Historic JOA says it ended, or closed.
        case
            when search.is_open and search.closes_at::date >= current_date then 'open'
            when search.control_number is null
                and historic.position_opening_status = 'Accepting applications'
                and historic.closes_on >= current_date
                then 'open'
            when historic.position_opening_status = 'Candidate selected' then 'selected'
            when historic.position_opening_status = 'Job canceled' then 'cancelled'
            when historic.position_opening_status = 'Job closed' then 'closed'
            when historic.position_opening_status = 'Applications under review'
                then 'under review'
            else 'closed'
        end as status,
        coalesce(
            search.position_uri,
            'https://www.usajobs.gov/job/'
            || coalesce(search.control_number, historic.control_number)
        ) as position_uri,
        search.control_number is not null as in_search,
        historic.control_number is not null as in_historic,
        case when search.control_number is not null then 'search' else 'historic' end
            as preferred_source,
        greatest(search.last_seen_at, historic.last_loaded_at) as last_loaded_at
    from search
    full outer join historic
        on search.control_number = historic.control_number

),

final as (

    select
        *,
        occupational_series_codes[1] as occupational_series_code
    from joined

)

select * from final
