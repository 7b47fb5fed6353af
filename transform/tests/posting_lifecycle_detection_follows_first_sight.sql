{#-
    Detection moves forward in time: a closure or a selection is never detected before
    the posting was first seen.
-#}
select control_number, first_seen_at, closed_detected_at, selection_detected_at
from {{ ref('posting_lifecycle') }}
where closed_detected_at < first_seen_at
    or selection_detected_at < first_seen_at
