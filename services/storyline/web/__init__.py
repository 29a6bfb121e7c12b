"""The HTTP server's own parts: composition, middleware, API keys and limits."""
