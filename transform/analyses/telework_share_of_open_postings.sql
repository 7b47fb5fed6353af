-- Of the postings taking applications today, what share allow telework, and what
-- share are fully remote?
select
    count(*) as open_postings,
    round(avg(case when is_telework_eligible then 1.0 else 0.0 end), 4) as telework_share,
    round(avg(case when is_remote then 1.0 else 0.0 end), 4) as remote_share
from {{ ref('job_listings') }}
where is_open
    and closes_at::date >= current_date
