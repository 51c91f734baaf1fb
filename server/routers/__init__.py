"""HTTP routers, one per resource: runs, events, examples."""
