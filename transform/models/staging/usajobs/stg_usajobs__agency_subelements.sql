{{ stage_code_list('agency_subelements', {'ParentCode': 'parent_code', 'Acronym': 'acronym'}) }}
