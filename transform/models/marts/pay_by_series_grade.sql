{#-
    Annual pay by occupational series, pay plan and grade, over every posting ever
    loaded (postings): how many there are, and the quartiles of the lowest and highest
    annual pay they offer. The grade is the posting's lowest; a posting with two series
    counts under each. Postings whose pay has no annual figure (piece work, without
    compensation, ...) are counted but add no pay.
-#}

with

postings as (

    select * from {{ ref('postings') }}

),

by_series as (

    select
        series.code as occupational_series_code,
        postings.pay_plan_code,
        postings.low_grade_number as grade,
        postings.annual_salary_min,
        postings.annual_salary_max
    from postings
    cross join lateral unnest(postings.occupational_series_codes) as series (code)

),

final as (

    select
        occupational_series_code,
        {{ code_list_name('occupational_series', 'occupational_series_code') }}
            as occupational_series_name,
        pay_plan_code,
        grade,
        count(*) as postings,
        count(annual_salary_min) as postings_with_annual_pay,
        percentile_cont(0.25) within group (order by annual_salary_min) as annual_salary_min_p25,
        percentile_cont(0.5) within group (order by annual_salary_min) as annual_salary_min_median,
        percentile_cont(0.75) within group (order by annual_salary_min) as annual_salary_min_p75,
        percentile_cont(0.5) within group (order by annual_salary_max) as annual_salary_max_median
    from by_series
    group by occupational_series_code, pay_plan_code, grade

)

select * from final
