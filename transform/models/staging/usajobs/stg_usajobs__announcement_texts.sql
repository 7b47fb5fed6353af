with

source as (

    {{ source_or_empty('usajobs', 'announcement_texts') }}

),

-- target-postgres upserts on the key; keep the newest load per control number anyway.
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
        "positionSeries" as occupational_series_code,

        ---------- arrays
        array(
            select categories.category ->> 'series'
            from jsonb_array_elements({{ json_array("\"jobCategories\"") }})
                with ordinality as categories (category, position)
            order by categories.position
        ) as occupational_series_codes,

        ---------- strings (HTML, as published)
        summary,
        duties,
        "majorDutiesList" as major_duties,
        "hiringPathExplanation" as hiring_path_explanation,
        coalesce("requirementsConditionsOfEmployment", requirements)
            as conditions_of_employment,
        "requirementsQualifications" as qualifications,
        "requirementsEducation" as education,
        evaluations,
        "requiredDocuments" as required_documents,
        "requiredStandardDocuments" as required_standard_documents,
        "howToApply" as how_to_apply,
        "howToApplyNextSteps" as what_to_expect_next,
        benefits,
        "benefitsURL" as benefits_url,
        "otherInformation" as other_information,

        ---------- dates
        "positionOpenDate" as opened_on,
        "positionCloseDate" as closes_on,

        ---------- load metadata
        _sdc_extracted_at as extracted_at,
        _sdc_batched_at as loaded_at

    from deduplicated

)

select * from renamed
