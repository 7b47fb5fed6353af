-- Postings opened and closed per day over the last 60 days.
select day, opened, closed
from daily_postings
where day > current_date - 60
order by day
