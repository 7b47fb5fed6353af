{#-
    Grades as analysts write them. The APIs send grades as text ("07", "13", "00" for
    plans without grades such as ES); `grade_number` reads one as an integer (null when
    it is not digits) for filters like "GS-13 and up", and `grade_display` writes a range
    the way USAJobs shows it: "GS-07/09", "GS-13" for a single grade, "ES" without one.
-#}

{% macro grade_number(grade) -%}
    case when {{ grade }} ~ '^\s*\d{1,2}\s*$' then trim({{ grade }})::integer end
{%- endmacro %}

{% macro grade_display(pay_plan, low_grade, high_grade) -%}
    case
        when {{ pay_plan }} is null then null
        when {{ grade_number(low_grade) }} is null or {{ grade_number(low_grade) }} = 0
            then {{ pay_plan }}
        when {{ grade_number(high_grade) }} is null
            or {{ grade_number(high_grade) }} = {{ grade_number(low_grade) }}
            then {{ pay_plan }} || '-' || lpad({{ grade_number(low_grade) }}::text, 2, '0')
        else {{ pay_plan }} || '-' || lpad({{ grade_number(low_grade) }}::text, 2, '0')
            || '/' || lpad({{ grade_number(high_grade) }}::text, 2, '0')
    end
{%- endmacro %}
