"""`python -m benchmark` is `aca-bench`."""

from benchmark.cli import main

main()
