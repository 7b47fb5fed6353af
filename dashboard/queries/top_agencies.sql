-- The ten agencies with the most open postings.
select agency_name as agency, count(*) as open_postings
from postings
where status = 'open' and agency_name is not null
group by agency_name
order by open_postings desc, agency asc
limit 10
