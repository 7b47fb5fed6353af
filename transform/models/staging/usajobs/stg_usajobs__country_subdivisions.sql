{{ stage_code_list('country_subdivisions', {'ParentCode': 'parent_code'}) }}
