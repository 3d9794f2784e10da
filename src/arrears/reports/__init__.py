"""Reports: the daily aggregate tables written after each end of day, and the dashboard figures read from them
and from the capabilities' own tables (docs/dashboards.md). Pure queries: no web code here."""
