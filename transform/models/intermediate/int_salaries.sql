{#-
    The project's one salary rule: one row per Search posting, its pay range as sent
    and per year. The range spans every entry (lowest minimum, highest maximum); the
    first entry's interval describes it. Per year is the amount times the interval's
    factor (macros/salary.sql): PA x1, PH x2087, PD x260, BW x26, PM x12, and null for
    intervals with no fixed period (PW piece work, FB, ST, SY, WC). Unit tests in
    _int__models.yml pin every case.
-#}

with

entries as (

    select * from {{ ref('int_pay_entries') }}

),

final as (

    select
        control_number,
        min(minimum_range) as salary_min,
        max(maximum_range) as salary_max,
        (array_agg(rate_interval_code order by entry_position))[1] as rate_interval_code,
        (array_agg(rate_interval_raw order by entry_position))[1] as rate_interval_raw,
        (array_agg(rate_interval_description order by entry_position))[1]
            as rate_interval_description,
        count(distinct rate_interval_code) as rate_interval_count,
        min(minimum_range * {{ annualization_factor('rate_interval_code') }}) as annual_salary_min,
        max(maximum_range * {{ annualization_factor('rate_interval_code') }}) as annual_salary_max
    from entries
    group by control_number

)

select * from final
