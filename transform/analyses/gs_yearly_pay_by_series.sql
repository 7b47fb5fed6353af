-- What do General Schedule postings paid by the year offer, by occupational series?
-- A posting with two series counts under each.
select
    series.code as occupational_series_code,
    count(*) as postings,
    percentile_cont(0.5) within group (order by listings.salary_min) as median_salary_min,
    max(listings.salary_max) as highest_salary_max
from {{ ref('job_listings') }} as listings
cross join lateral unnest(listings.occupational_series_codes) as series (code)
where listings.pay_plan_code = 'GS'
    and listings.rate_interval_code = 'PA'
group by series.code
order by series.code
