-- The newest load of the Search postings, and how old it is.
select
    max(_sdc_batched_at) as newest_load,
    extract(epoch from now() at time zone 'utc' - max(_sdc_batched_at)) / 3600 as age_hours
from usajobs.jobs
