"""Content-addressed file storage (evidence uploads, documents)."""
