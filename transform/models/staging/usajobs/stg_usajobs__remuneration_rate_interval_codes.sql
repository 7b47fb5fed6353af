{{ stage_code_list('remuneration_rate_interval_codes') }}
