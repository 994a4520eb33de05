"""Tasks: datasets, the collective's strategy g and target y*, and model factories, with a registry."""
