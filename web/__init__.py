"""Templates, static files (vendored htmx and GraphiQL) and the dashboard's GraphQL operations."""
