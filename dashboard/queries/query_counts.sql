-- Each query's result count in every full scan (what the count-drop alert compares;
-- incremental runs ask for recent postings only), oldest first.
select
    runs.started_at,
    counts.query,
    (counts.count ->> 'reported')::bigint as reported
from usajobs_ops.pipeline_runs as runs
cross join lateral jsonb_each(runs.query_counts) as counts (query, count)
where runs.query_counts is not null
    and coalesce((counts.count ->> 'full_scan')::boolean, false)
order by runs.started_at asc, counts.query asc
