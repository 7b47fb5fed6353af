{{ config(severity='warn') }}

{#-
    Where both APIs list a posting they should agree on the day it opened. They can
    differ for a while (Historic JOA is refreshed apart from Search), so a difference
    warns instead of failing the run.
-#}
select
    job_listings.control_number,
    job_listings.published_at::date as search_opened_on,
    historic_job_listings.opened_on as historic_opened_on
from {{ ref('job_listings') }} as job_listings
inner join {{ ref('historic_job_listings') }} as historic_job_listings
    on job_listings.control_number = historic_job_listings.control_number
where job_listings.published_at::date is distinct from historic_job_listings.opened_on
