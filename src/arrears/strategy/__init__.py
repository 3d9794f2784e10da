"""Collection strategy: rules (YAML) deciding each open case's action after end of day, champion/challenger."""
