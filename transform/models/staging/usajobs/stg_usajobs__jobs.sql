with

source as (

    select * from {{ source('usajobs', 'jobs') }}

),

-- target-postgres upserts on the key, so duplicates should not exist; keep the newest
-- load per control number anyway, so a replayed batch can never double a posting.
deduplicated as (

    select distinct on ("MatchedObjectId")
        *,
        "UserArea" -> 'Details' as details
    from source
    order by "MatchedObjectId" asc, _sdc_batched_at desc nulls last

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
        nullif(coalesce(jobs."SubAgency", jobs.details ->> 'SubAgencyName'), '') as sub_agency_name,
        jobs."PositionLocationDisplay" as location_display,
        jobs."QualificationSummary" as qualification_summary,
        jobs.details ->> 'JobSummary' as job_summary,
        jobs.details ->> 'OrganizationCodes' as organization_codes,
        nullif(jobs.details ->> 'LowGrade', '') as low_grade,
        nullif(jobs.details ->> 'HighGrade', '') as high_grade,
        nullif(jobs.details ->> 'PromotionPotential', '') as promotion_potential,
        nullif(jobs.details ->> 'TotalOpenings', '') as total_openings,
        nullif(jobs.details ->> 'SecurityClearance', '') as security_clearance,
        nullif(jobs.details ->> 'PositionSensitivitiy', '') as position_sensitivity,
        nullif(jobs.details -> 'WhoMayApply' ->> 'Code', '') as who_may_apply_code,
        nullif(jobs.details -> 'WhoMayApply' ->> 'Name', '') as who_may_apply_name,
        nullif(jobs.details ->> 'TravelCode', '') as travel_code,
        nullif(jobs.details ->> 'ServiceType', '') as service_type_code,
        nullif(jobs.details ->> 'AnnouncementClosingType', '') as closing_type_code,
        nullif(jobs.details ->> 'AnnouncementClosingTypeOption', '') as closing_type_option,

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
            select offering ->> 'Code'
            from jsonb_array_elements({{ json_array('jobs."PositionOfferingType"') }}) as offering
        ) as position_offering_type_codes,
        array(
            select jsonb_array_elements_text({{ json_array("jobs.details -> 'HiringPath'") }})
        ) as hiring_paths,

        ---------- nested, as sent (read by the intermediate models)
        {{ json_array('jobs."PositionRemuneration"') }} as remuneration,
        {{ json_array('jobs."PositionLocation"') }} as position_locations,

        ---------- booleans
        (jobs.details ->> 'TeleworkEligible')::boolean as is_telework_eligible,
        (jobs.details ->> 'RemoteIndicator')::boolean as is_remote,
        (jobs.details ->> 'Relocation')::boolean as offers_relocation,
        (jobs.details ->> 'DrugTestRequired')::boolean as requires_drug_test,

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

)

select * from renamed
