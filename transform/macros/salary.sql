{#-
    Salary rules, in one place.

    The Search API sends a rate interval code per remuneration entry: "PA", "PH", ...
    since 2023, and before that free text such as "Per Year" with no code at all.
    `normalize_rate_interval` maps both to the code list's codes
    (/api/codelist/remunerationrateintervalcodes).

    `annualization_factor` turns an amount per interval into an amount per year:
      PA per year      x 1
      PH per hour      x 2087  (OPM's standard federal work year in hours)
      PD per day       x 260   (working days in a year)
      BW bi-weekly     x 26
      PM per month     x 12
    Every other code has no fixed period and gets no annual figure (null):
      PW "Piece Work"  (the code list's meaning; not "per week")
      FB fee basis, ST student stipend, SY school year, WC without compensation.
-#}

{% macro normalize_rate_interval(raw) -%}
    case
        when upper(trim({{ raw }})) in ('PA', 'PH', 'PD', 'BW', 'PM', 'PW', 'FB', 'ST', 'SY', 'WC')
            then upper(trim({{ raw }}))
        else case lower(trim({{ raw }}))
            when 'per year' then 'PA'
            when 'per hour' then 'PH'
            when 'per day' then 'PD'
            when 'bi-weekly' then 'BW'
            when 'per month' then 'PM'
            when 'piece work' then 'PW'
            when 'fee basis' then 'FB'
            when 'student stipend paid' then 'ST'
            when 'school year' then 'SY'
            when 'without compensation' then 'WC'
        end
    end
{%- endmacro %}

{% macro annualization_factor(code) -%}
    case {{ code }}
        when 'PA' then 1
        when 'PH' then 2087
        when 'PD' then 260
        when 'BW' then 26
        when 'PM' then 12
    end
{%- endmacro %}
