{#-
    `expression` when it holds a JSON array, else an empty one.

    tap-usajobs writes every array the schema declares as an array (it wraps a single
    value in one), but the raw columns are plain jsonb and take any JSON: a row loaded
    by another writer or an older tap must not make jsonb_array_elements fail, and with
    it every later build of the marts.
-#}
{% macro json_array(expression) -%}
    case when jsonb_typeof({{ expression }}) = 'array' then {{ expression }} else '[]'::jsonb end
{%- endmacro %}


{#-
    The number at `expression` (a jsonb value) as numeric, or null when it is not a JSON
    number: text such as "N/A" from an older writer yields null instead of failing the
    build.
-#}
{% macro json_number(expression) -%}
    case when jsonb_typeof({{ expression }}) = 'number' then ({{ expression }})::text::numeric end
{%- endmacro %}
