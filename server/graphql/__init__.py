"""The GraphQL API: one schema for partners, integrators and (later) the dashboard."""
