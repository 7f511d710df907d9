"""JSON Schemas shipped with ml-service (result and submission formats)."""
