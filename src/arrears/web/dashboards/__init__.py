"""The dashboards for supervisors and compliance (docs/dashboards.md): figures from ``arrears.reports``, drawn
as inline SVG with a data table each, and exported to XLSX with the same numbers."""

from arrears.web.dashboards.pages import router

__all__ = ["router"]
