{{ stage_code_list('occupational_series', {'JobFamily': 'job_family_code'}) }}
