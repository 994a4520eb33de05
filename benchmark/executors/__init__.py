"""Executors: where planned stacks train. `local` runs them in this process, `ray` as Ray tasks; both stream
each finished stack's records into the store."""
