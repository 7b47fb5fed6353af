{{ stage_code_list('countries') }}
