"""What the routes do, apart from HTTP: one module per resource."""
