{#-
    Write-audit-publish (ADR 19). With `--vars '{wap: true}'` (meltano's
    `dbt-postgres:build-audit`), the marts are built and tested in `<schema>_audit`,
    where consumers do not look; `wap_publish` (`dbt-postgres:publish`, run only after a
    build whose every test passed) then moves them into `<schema>` in one transaction.
    A failing test therefore leaves the published marts as they were, and readable.

    Incremental marts keep history that exists only in the published table, so
    `wap_prepare` (on-run-start) first copies each published one into the audit schema:
    the audit build continues that history, and publishing it replaces it.
-#}

{% macro audit_schema() -%}
    {{ target.schema ~ '_audit' }}
{%- endmacro %}


{% macro published_marts() -%}
    {#- The marts dbt materialises as tables: what a publish moves. -#}
    {%- set marts = [] -%}
    {%- for node in graph.nodes.values()
        if node.resource_type == 'model'
        and node.fqn[1] == 'marts'
        and node.config.materialized in ('table', 'incremental') -%}
        {%- do marts.append(node) -%}
    {%- endfor -%}
    {{ return(marts) }}
{%- endmacro %}


{% macro wap_prepare() %}
    {%- if execute and var('wap', false) -%}
        {%- do run_query('create schema if not exists ' ~ adapter.quote(audit_schema())) -%}
        {%- for node in published_marts() if node.config.materialized == 'incremental' -%}
            {%- set published = adapter.get_relation(target.database, target.schema, node.alias) -%}
            {%- set audit = api.Relation.create(
                database=target.database, schema=audit_schema(), identifier=node.alias
            ) -%}
            {%- do run_query('drop table if exists ' ~ audit) -%}
            {%- do adapter.cache_dropped(audit) -%}
            {%- if published is not none -%}
                {%- do run_query(
                    'create table ' ~ audit ~ ' (like ' ~ published ~ ' including all); '
                    ~ 'insert into ' ~ audit ~ ' select * from ' ~ published
                ) -%}
                {#- dbt read the catalog before this hook: tell it the table is there. -#}
                {%- do adapter.cache_added(audit.incorporate(type='table')) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
{% endmacro %}


{% macro wap_publish() %}
    {#- One transaction: readers see every old mart or every new one, never a mix. -#}
    {%- set statements = [] -%}
    {%- for node in published_marts() -%}
        {%- set audit = adapter.get_relation(target.database, audit_schema(), node.alias) -%}
        {%- if audit is none -%}
            {{ exceptions.raise_compiler_error(
                'nothing to publish for ' ~ node.alias ~ ': build it with dbt-postgres:build-audit first'
            ) }}
        {%- endif -%}
        {%- set published = api.Relation.create(
            database=target.database, schema=target.schema, identifier=node.alias
        ) -%}
        {%- set previous = node.alias ~ '__wap_previous' -%}
        {%- do statements.append(
            'drop table if exists ' ~ adapter.quote(target.schema) ~ '.' ~ adapter.quote(previous) ~ ' cascade; '
            ~ 'alter table if exists ' ~ published ~ ' rename to ' ~ adapter.quote(previous) ~ '; '
            ~ 'alter table ' ~ audit ~ ' set schema ' ~ adapter.quote(target.schema) ~ '; '
            ~ 'drop table if exists ' ~ adapter.quote(target.schema) ~ '.' ~ adapter.quote(previous) ~ ' cascade;'
        ) -%}
    {%- endfor -%}
    {%- do run_query(statements | join(' ')) -%}
    {%- do adapter.commit() -%}
    {{ log('published ' ~ statements | length ~ ' marts into ' ~ target.schema, info=true) }}
{% endmacro %}
