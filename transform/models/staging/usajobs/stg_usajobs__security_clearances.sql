{{ stage_code_list('security_clearances') }}
