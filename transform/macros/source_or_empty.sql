{#-
    `select * from` a Singer table, or, when it was never loaded, an empty relation with
    the columns (and types) its sources file documents.

    Every stream except `jobs` is opt-in, so a project that never selected, say,
    `historic_jobs` has no `usajobs.historic_jobs` table. Its models must still build
    (empty) for `dbt run` and `dbt test` to pass. The check runs when the model runs
    (`load_relation`), not when the project is parsed, so a table that appears later is
    picked up by the next run without any setting; and `source()` is always called, so
    lineage and docs show the dependency either way.
-#}
{% macro source_or_empty(source_name, table_name) -%}
    {%- set relation = source(source_name, table_name) -%}
    {%- if execute and load_relation(relation) is none -%}
        {%- set node = graph.sources.values()
            | selectattr('source_name', 'equalto', source_name)
            | selectattr('name', 'equalto', table_name)
            | first -%}
        {%- if not node.columns -%}
            {{ exceptions.raise_compiler_error(
                "source " ~ source_name ~ "." ~ table_name ~ " documents no columns to stand in with") }}
        {%- endif -%}
        {{ log("source " ~ relation ~ " is not loaded yet: " ~ this ~ " builds empty", info=true) }}
        select
        {%- for column in node.columns.values() %}
            cast(null as {{ column.data_type }}) as {{ adapter.quote(column.name) if column.quote else column.name }}
            {{- "," if not loop.last }}
        {%- endfor %}
        where false
    {%- else -%}
        select * from {{ relation }}
    {%- endif -%}
{%- endmacro %}
