{#-
    Every value of the column (or, with each_element, of the array column) is in the
    code list `stg_usajobs__<code_list>`, matched on `field` (`code`, or `name` for the
    Historic API's text values). A code list that was never loaded checks nothing: the
    lists are opt-in streams, and an empty one says "not loaded", not "no codes".
    Codes that left the list still count: old postings keep using them.
-#}
{% test relationships_to_code_list(
    model, column_name, code_list, field='code', each_element=false
) %}

with

code_list as (

    select {{ field }} as value
    from {{ ref('stg_usajobs__' ~ code_list) }}

),

used as (

    {% if each_element -%}
    select element as value
    from {{ model }}
    cross join lateral unnest({{ column_name }}) as element
    {%- else -%}
    select {{ column_name }} as value
    from {{ model }}
    {%- endif %}

)

select used.value
from used
where used.value is not null
    and exists (select 1 from code_list)
    and not exists (select 1 from code_list where code_list.value = used.value)

{% endtest %}
