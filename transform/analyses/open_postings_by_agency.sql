-- Which five agencies have the most postings taking applications today, and how many
-- of those are fully remote?
select
    organization_name as agency,
    count(*) as open_postings,
    count(*) filter (where is_remote) as remote_postings
from {{ ref('job_listings') }}
where is_open
    and closes_at::date >= current_date
group by organization_name
order by open_postings desc, agency asc
limit 5
