{{ stage_code_list('service_types') }}
