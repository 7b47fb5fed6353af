-- How postings end, and how often their close date moved.
select
    count(*) as postings,
    count(*) filter (where close_date_extensions > 0) as extended,
    count(*) filter (where is_reopened) as reopened,
    count(*) filter (where final_status = 'cancelled') as cancelled,
    count(*) filter (where final_status is not null) as ended,
    percentile_cont(0.5) within group (order by days_open) as median_days_open
from posting_lifecycle
