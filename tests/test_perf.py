"""`aca-bench perf` measures both paths for ERM and DP-SGD in one run and reports their ratio."""

import re

import pytest


@pytest.mark.parametrize(
    ("precision", "stepping", "engine"),
    [("fp32", "auto", "engine (in turn)"), ("bf16", "vmapped", "engine (vmapped)")],
)
def test_perf_reports_both_paths_and_ratios(cli, precision, stepping, engine):
    result = cli(
        "perf",
        "--precision",
        precision,
        "--stepping",
        stepping,
        "--n-train",
        "128",
        "--stack",
        "2",
        "--naive-models",
        "1",
        "--batch-size",
        "32",
        "--device",
        "cpu",
    )
    assert result.exit_code == 0, result.output
    assert f"stacked precision {precision}" in result.output
    rows = re.findall(
        r"^(erm|dpsgd)\s+(naive loop|naive \(Opacus\)|engine \(.+?\))\s+(\d+)\s+1\s+([\d.]+)\s+([\d.]+)$",
        result.output,
        flags=re.M,
    )
    assert {(a, p) for a, p, *_ in rows} == {
        ("erm", "naive loop"),
        ("erm", engine),
        ("dpsgd", "naive (Opacus)"),
        ("dpsgd", engine),
    }
    for _, path, models, seconds, rate in rows:
        assert int(models) == (2 if path == engine else 1)
        assert float(rate) > 0
        if float(seconds) >= 2:  # printed to 0.1 s: compare only where that rounding is small
            assert abs(float(rate) - int(models) * 60 / float(seconds)) / float(rate) < 0.05
    assert re.search(r"^erm: engine / naive = [\d.]+x", result.output, flags=re.M)
    assert re.search(r"^dpsgd: engine / naive = [\d.]+x", result.output, flags=re.M)


def test_perf_refuses_an_algorithm_it_cannot_time(cli):
    result = cli("perf", "--algorithms", "groupdro")
    assert result.exit_code == 2 and "perf times erm, dpsgd, not 'groupdro'" in result.output
