-- Yearly pay by series, pay plan and grade, where at least three postings say it.
select
    occupational_series_code || coalesce(' ' || occupational_series_name, '') as series,
    pay_plan_code || coalesce('-' || lpad(grade::text, 2, '0'), '') as grade,
    postings_with_annual_pay as postings,
    annual_salary_min_p25 as p25,
    annual_salary_min_median as median,
    annual_salary_min_p75 as p75
from pay_by_series_grade
where postings_with_annual_pay >= 3
order by postings_with_annual_pay desc, series asc, grade asc
limit 15
