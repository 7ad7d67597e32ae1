"""Schemathesis hooks of `npm run fuzz` (scripts/fuzz.ts loads them via SCHEMATHESIS_HOOKS).

GET /api/departures refuses `to` equal to `from` (400 `to: must differ from the departure
station`): a rule between two parameters that no parameter schema of an OpenAPI document can
state. Without this filter the positive_data_acceptance check reports every such pair; with it,
the check still covers every other valid query.
"""

import schemathesis


# filter_case rather than filter_query: the coverage phase builds whole cases without the latter.
@schemathesis.hook("filter_case")
def different_stations(ctx, case):
    query = case.query
    if case.operation.path != "/api/departures" or not isinstance(query, dict):
        return True
    origin, destination = query.get("from"), query.get("to")
    if isinstance(origin, str) and isinstance(destination, str):
        return origin.upper() != destination.upper()
    return True
