-- Every open posting, for the explorer (its filters run in the page).
select
    control_number,
    position_title as title,
    agency_name as agency,
    grade_display as grade,
    array_to_string(states, ', ') as states,
    annual_salary_min,
    annual_salary_max,
    coalesce(is_remote, false) as is_remote,
    coalesce(is_telework_eligible, false) as is_telework_eligible,
    closes_on,
    position_uri as url
from postings
where status = 'open'
order by closes_on asc, control_number asc
