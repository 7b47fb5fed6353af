-- The job market's headline figures: postings taking applications today (postings,
-- either API), opened in the last 7 days, their median yearly pay, remote and telework.
select
    count(*) filter (where status = 'open') as open_postings,
    count(*) filter (where opened_on > current_date - 7) as opened_last_7_days,
    percentile_cont(0.5) within group (order by annual_salary_min)
        filter (where status = 'open') as median_annual_salary_min,
    avg(case when is_remote then 1.0 else 0.0 end) filter (where status = 'open') as remote_share,
    avg(case when is_telework_eligible then 1.0 else 0.0 end)
        filter (where status = 'open') as telework_share
from postings
