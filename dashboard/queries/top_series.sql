-- The ten occupational series with the most open postings.
select
    series.code || coalesce(' ' || names.name, '') as series,
    count(*) as open_postings
from postings
cross join lateral unnest(postings.occupational_series_codes) as series (code)
left join staging.stg_usajobs__occupational_series as names
    on series.code = names.code
where postings.status = 'open'
group by series.code, names.name
order by open_postings desc, series asc
limit 10
