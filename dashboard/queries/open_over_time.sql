-- Postings open per day over the last 120 days.
select day, open
from daily_postings
where day > current_date - 120
order by day
