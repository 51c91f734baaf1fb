"""Entry points that drive the workflow graph: the `amcs` command line and the HTTP service."""
