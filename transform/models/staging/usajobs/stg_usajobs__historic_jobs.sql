with

source as (

    {{ source_or_empty('usajobs', 'historic_jobs') }}

),

-- target-postgres upserts on the key, so duplicates should not exist; keep the newest
-- load per control number anyway, so a replayed batch can never double an announcement.
deduplicated as (

    select distinct on ("usajobsControlNumber") *
    from source
    order by "usajobsControlNumber" asc, _sdc_batched_at desc nulls last

),

renamed as (

    select

        ---------- ids
        "usajobsControlNumber" as control_number,
        "announcementNumber" as announcement_number,
        "hiringAgencyCode" as hiring_agency_code,
        "hiringDepartmentCode" as hiring_department_code,
        "payScale" as pay_plan_code,
        "announcementClosingTypeCode" as closing_type_code,

        ---------- strings
        "positionTitle" as position_title,
        nullif("hiringAgencyName", '') as hiring_agency_name,
        nullif("hiringDepartmentName", '') as hiring_department_name,
        nullif("hiringSubelementName", '') as hiring_subelement_name,
        "appointmentType" as appointment_type,
        "workSchedule" as work_schedule,
        "serviceType" as service_type,
        "minimumGrade" as low_grade,
        "maximumGrade" as high_grade,
        "promotionPotential" as promotion_potential,
        "totalOpenings" as total_openings,
        "securityClearance" as security_clearance,
        "travelRequirement" as travel_requirement,
        vendor as hiring_system,
        nullif("whoMayApply", '') as who_may_apply,
        "announcementClosingTypeDescription" as closing_type,
        "positionOpeningStatus" as position_opening_status,
        "salaryType" as rate_interval_raw,
        {{ normalize_rate_interval('"salaryType"') }} as rate_interval_code,

        ---------- arrays
        array(
            select paths.path ->> 'hiringPath'
            from jsonb_array_elements({{ json_array("\"hiringPaths\"") }})
                with ordinality as paths (path, position)
            order by paths.position
        ) as hiring_paths,
        array(
            select categories.category ->> 'series'
            from jsonb_array_elements({{ json_array("\"jobCategories\"") }})
                with ordinality as categories (category, position)
            order by categories.position
        ) as occupational_series_codes,
        array(
            select concat_ws(
                ', ',
                nullif(places.place ->> 'positionLocationCity', ''),
                nullif(places.place ->> 'positionLocationState', ''),
                nullif(places.place ->> 'positionLocationCountry', '')
            )
            from jsonb_array_elements({{ json_array("\"positionLocations\"") }})
                with ordinality as places (place, position)
            order by places.position
        ) as locations,
        array(
            select distinct places.place ->> 'positionLocationState' as state
            from jsonb_array_elements({{ json_array("\"positionLocations\"") }}) as places (place)
            where nullif(places.place ->> 'positionLocationState', '') is not null
            order by state
        ) as states,

        ---------- numerics
        "agencyLevel" as agency_level,
        "minimumSalary" as salary_min,
        "maximumSalary" as salary_max,

        ---------- booleans
        "positionOpeningStatus" in ('Job closed', 'Candidate selected', 'Job canceled')
            as is_status_final,
        "supervisoryStatus" as is_supervisory,
        "teleworkEligible" as is_telework_eligible,
        "securityClearanceRequired" as requires_security_clearance,
        "drugTestRequired" as requires_drug_test,
        "relocationExpensesReimbursed" as reimburses_relocation,
        "disableApplyOnline" as is_apply_online_disabled,

        ---------- dates
        "positionOpenDate" as opened_on,
        "positionCloseDate" as closes_on,
        "positionExpireDate" as expires_on,

        ---------- load metadata
        _sdc_extracted_at as extracted_at,
        _sdc_batched_at as loaded_at

    from deduplicated

)

select * from renamed
