"""Learning algorithms: per-model update rules the engine stacks, and their registry entries (YAML)."""
