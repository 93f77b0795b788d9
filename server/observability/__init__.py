"""Operating threemin: request ids, JSON logs, Prometheus metrics, health and readiness.

Nothing here changes what a request does or answers (but for the x-request-id
header): handlers note facts about their request (request_info.py), and the
middleware turns them into metrics and an access log line once it is over.
Nothing here may log or label a metric with a key, a token, an id or any
other value a client chose: labels come from the schema and the route table.
"""
