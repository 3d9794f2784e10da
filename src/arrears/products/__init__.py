"""Product definitions and the legal numbers they must respect, as validated YAML."""
