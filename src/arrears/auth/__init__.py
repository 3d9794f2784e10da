"""Users, roles, permissions, bearer tokens."""
