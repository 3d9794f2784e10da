"""Collection cases: the stage lifecycle (policy as YAML), cases opened and closed after end of day."""
