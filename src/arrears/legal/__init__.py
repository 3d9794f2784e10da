"""Legal recovery: lawyer letters and legal notices, litigation cases, deadlines and the evidence bundle."""
