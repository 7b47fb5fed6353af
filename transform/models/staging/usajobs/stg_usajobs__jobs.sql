with

source as (

    select * from {{ source('usajobs', 'jobs') }}

),

-- target-postgres upserts on the key, so duplicates should not exist; keep the newest
-- load per control number anyway, so a replayed batch can never double a posting.
deduplicated as (

    select distinct on ("MatchedObjectId") *
    from source
    order by "MatchedObjectId", _sdc_batched_at desc nulls last

),

remuneration as (

    select
        jobs."MatchedObjectId" as control_number,
        pay.ordinality,
        nullif(pay.entry ->> 'MinimumRange', '')::numeric as minimum_range,
        nullif(pay.entry ->> 'MaximumRange', '')::numeric as maximum_range,
        pay.entry ->> 'RateIntervalCode' as rate_interval_raw,
        pay.entry ->> 'Description' as rate_interval_description,
        {{ normalize_rate_interval("pay.entry ->> 'RateIntervalCode'") }} as rate_interval_code
    from deduplicated as jobs
    cross join lateral jsonb_array_elements({{ json_array('jobs."PositionRemuneration"') }})
        with ordinality as pay (entry, ordinality)

),

salaries as (

    select
        control_number,
        min(minimum_range) as salary_min,
        max(maximum_range) as salary_max,
        -- Postings list one interval in practice; when they list several, the first
        -- entry's interval describes salary_min/salary_max.
        (array_agg(rate_interval_code order by ordinality))[1] as rate_interval_code,
        (array_agg(rate_interval_raw order by ordinality))[1] as rate_interval_raw,
        (array_agg(rate_interval_description order by ordinality))[1] as rate_interval_description,
        count(distinct rate_interval_code) as rate_interval_count,
        min(minimum_range * {{ annualization_factor('rate_interval_code') }}) as annual_salary_min,
        max(maximum_range * {{ annualization_factor('rate_interval_code') }}) as annual_salary_max
    from remuneration
    group by control_number

),

renamed as (

    select

        ---------- ids
        jobs."MatchedObjectId"::bigint as control_number,
        jobs."PositionID" as announcement_number,

        ---------- strings
        jobs."PositionTitle" as position_title,
        jobs."PositionURI" as position_uri,
        jobs."ApplyURI"[1] as apply_uri,
        jobs."OrganizationName" as organization_name,
        nullif(jobs."DepartmentName", '') as department_name,
        nullif(coalesce(jobs."SubAgency", jobs."UserArea" -> 'Details' ->> 'SubAgencyName'), '')
            as sub_agency_name,
        jobs."PositionLocationDisplay" as location_display,
        jobs."QualificationSummary" as qualification_summary,
        jobs."UserArea" -> 'Details' ->> 'JobSummary' as job_summary,
        jobs."UserArea" -> 'Details' ->> 'OrganizationCodes' as organization_codes,
        jobs."UserArea" -> 'Details' ->> 'LowGrade' as low_grade,
        jobs."UserArea" -> 'Details' ->> 'HighGrade' as high_grade,

        ---------- arrays
        array(
            select location ->> 'LocationName'
            from jsonb_array_elements({{ json_array('jobs."PositionLocation"') }}) as location
        ) as locations,
        array(
            select category ->> 'Code'
            from jsonb_array_elements({{ json_array('jobs."JobCategory"') }}) as category
        ) as occupational_series_codes,
        array(
            select grade ->> 'Code'
            from jsonb_array_elements({{ json_array('jobs."JobGrade"') }}) as grade
        ) as pay_plan_codes,
        array(
            select schedule ->> 'Name'
            from jsonb_array_elements({{ json_array('jobs."PositionSchedule"') }}) as schedule
        ) as position_schedules,
        array(
            select schedule ->> 'Code'
            from jsonb_array_elements({{ json_array('jobs."PositionSchedule"') }}) as schedule
        ) as position_schedule_codes,
        array(
            select jsonb_array_elements_text({{ json_array('jobs."UserArea" -> \'Details\' -> \'HiringPath\'') }})
        ) as hiring_paths,

        ---------- numerics
        salaries.salary_min,
        salaries.salary_max,
        salaries.rate_interval_code,
        salaries.rate_interval_raw,
        salaries.rate_interval_description,
        salaries.rate_interval_count,
        salaries.annual_salary_min,
        salaries.annual_salary_max,

        ---------- booleans
        (jobs."UserArea" -> 'Details' ->> 'TeleworkEligible')::boolean as is_telework_eligible,
        (jobs."UserArea" -> 'Details' ->> 'RemoteIndicator')::boolean as is_remote,
        (jobs."UserArea" -> 'Details' ->> 'Relocation')::boolean as offers_relocation,
        (jobs."UserArea" -> 'Details' ->> 'DrugTestRequired')::boolean as requires_drug_test,

        ---------- timestamps
        jobs."PublicationStartDate" as published_at,
        jobs."ApplicationCloseDate" as closes_at,
        jobs."PositionStartDate" as position_starts_at,
        jobs."PositionEndDate" as position_ends_at,

        ---------- what the tap could not read, as sent (by JSON Pointer)
        jobs.unreadable_values,

        ---------- load metadata
        jobs._sdc_extracted_at as extracted_at,
        jobs._sdc_batched_at as loaded_at,
        jobs._sdc_deleted_at as deleted_at

    from deduplicated as jobs
    left join salaries
        on jobs."MatchedObjectId" = salaries.control_number

)

select * from renamed
