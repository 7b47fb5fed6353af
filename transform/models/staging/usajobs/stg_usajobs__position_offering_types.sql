{{ stage_code_list('position_offering_types') }}
