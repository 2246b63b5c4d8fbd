"""Facts: what the checks judge, gathered once per target and recordable as JSON."""
