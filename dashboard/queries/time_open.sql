-- How long postings stay open: postings by days from opening to the final close date,
-- in weeks.
select
    least(days_open / 7, 12) as weeks,
    count(*) as postings
from posting_lifecycle
where days_open is not null
group by least(days_open / 7, 12)
order by weeks
