{{ stage_code_list('pay_plans') }}
