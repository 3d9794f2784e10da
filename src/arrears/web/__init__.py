"""The web edge: the FastAPI app factory, error rendering, authentication and per-request transactions."""
