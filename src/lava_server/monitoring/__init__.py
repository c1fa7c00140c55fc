"""`GET /metrics`: the series of `lava_server.metrics` in Prometheus' text format, with the
values read from the database at scrape time (`docs/deploy.md#what-to-monitor`)."""
