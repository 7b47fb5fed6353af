-- Where the open postings are: per state or territory, with how many are remote.
select
    place.state,
    count(*) as open_postings,
    count(*) filter (where postings.is_remote) as remote
from postings
cross join lateral unnest(postings.states) as place (state)
where postings.status = 'open'
group by place.state
order by open_postings desc, place.state asc
