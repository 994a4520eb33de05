"""`python -m aca_bench.benchmark` is `aca-bench`."""

from aca_bench.benchmark.cli import main

main()
