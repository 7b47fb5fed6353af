-- The last 20 runs (usajobs_ops.pipeline_runs, written by orchestrate/run.py).
select
    run_id::text as run_id,
    started_at,
    extract(epoch from ended_at - started_at) as duration_s,
    status,
    exit_code,
    mode,
    records,
    requests,
    retries,
    alerts
from usajobs_ops.pipeline_runs
order by started_at desc
limit 20
