{#- Rows for which the expression is false fail the test; nulls pass. On a column the
    expression continues the column name (`>= 0`). dbt packages cannot be installed
    offline, so the few generic tests we need live here. -#}
{% test expression_is_true(model, expression, column_name=none) %}
    select *
    from {{ model }}
    where not ({% if column_name %}{{ column_name }} {% endif %}{{ expression }})
{% endtest %}
