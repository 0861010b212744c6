"""The search pipeline every backend shares: request plan, two ranked lists, fusion, paging."""
