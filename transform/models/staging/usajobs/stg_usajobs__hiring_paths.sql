{{ stage_code_list('hiring_paths') }}
