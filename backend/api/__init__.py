"""HTTP resources (blueprints). Each module parses, calls a service, renders."""
