{#-
    A control number names one announcement: where Search and Historic JOA both list a
    posting, they must agree on its announcement number.
-#}
select
    job_listings.control_number,
    job_listings.announcement_number as search_announcement_number,
    historic_job_listings.announcement_number as historic_announcement_number
from {{ ref('job_listings') }} as job_listings
inner join {{ ref('historic_job_listings') }} as historic_job_listings
    on job_listings.control_number = historic_job_listings.control_number
where job_listings.announcement_number is distinct from historic_job_listings.announcement_number
