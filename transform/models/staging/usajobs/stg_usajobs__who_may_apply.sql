{{ stage_code_list('who_may_apply') }}
