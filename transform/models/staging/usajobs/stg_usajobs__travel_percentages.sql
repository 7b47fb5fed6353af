{{ stage_code_list('travel_percentages') }}
