{{ stage_code_list('position_schedule_types') }}
