-- Each query's result count per run (what the count-drop alert compares), oldest first.
select
    runs.started_at,
    counts.query,
    (counts.count ->> 'reported')::bigint as reported,
    coalesce((counts.count ->> 'full_scan')::boolean, false) as full_scan
from usajobs_ops.pipeline_runs as runs
cross join lateral jsonb_each(runs.query_counts) as counts (query, count)
where runs.query_counts is not null
order by runs.started_at asc, counts.query asc
