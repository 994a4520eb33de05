"""aca-bench's pipeline: suites -> plan (cells, stacks) -> sweep -> executors -> runner/engine -> store ->
aggregate/critical; the CLI in commands/, speed measurements in perf/."""
