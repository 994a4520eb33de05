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
        r"^(erm|dpsgd)\s+(naive loop|naive \(Opacus\)|engine \(.+?\)|conv kernels only)"
        r"\s+(\d+)\s+1\s+([\d.]+)\s+([\d.]+)$",
        result.output,
        flags=re.M,
    )
    in_turn = engine == "engine (in turn)"  # only then the conv-kernel ceiling is measured
    expected = {("erm", "naive loop"), ("erm", engine), ("dpsgd", "naive (Opacus)"), ("dpsgd", engine)}
    if in_turn:
        expected |= {("erm", "conv kernels only"), ("dpsgd", "conv kernels only")}
    assert {(a, p) for a, p, *_ in rows} == expected and len(rows) == len(expected)
    rate = {(a, p): float(r) for a, p, _, _, r in rows}
    for _, path, models, seconds, rate_text in rows:
        assert int(models) == (2 if path == engine else 1)
        assert float(rate_text) > 0
        if float(seconds) >= 2:  # printed to 0.01 s: compare only where that rounding is small
            assert abs(float(rate_text) - int(models) * 60 / float(seconds)) / float(rate_text) < 0.05
    for name, naive in (("erm", "naive loop"), ("dpsgd", "naive (Opacus)")):
        ratio = re.search(rf"^{name}: engine / naive = ([\d.]+)x", result.output, flags=re.M)
        assert float(ratio[1]) == pytest.approx(rate[name, engine] / rate[name, naive], rel=0.01, abs=0.01)
        ceiling = re.search(rf"^{name}: conv kernels only / naive = ([\d.]+)x", result.output, flags=re.M)
        assert (ceiling is not None) == in_turn
        if in_turn:
            expected_ceiling = rate[name, "conv kernels only"] / rate[name, naive]
            assert float(ceiling[1]) == pytest.approx(expected_ceiling, rel=0.01, abs=0.01)


def test_perf_refuses_an_algorithm_it_cannot_time(cli):
    result = cli("perf", "--algorithms", "groupdro")
    assert result.exit_code == 2 and "perf times erm, dpsgd, not 'groupdro'" in result.output
