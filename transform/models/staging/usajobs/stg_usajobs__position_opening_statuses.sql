{{ stage_code_list('position_opening_statuses') }}
