"""The same cells give the same records: a small sweep (2 cells of mnist_patch with ERM on 1,000 real
digits for 3 epochs) is compared with records committed before the package was restructured.

The fixture `fixtures/same_records.jsonl` was written by
    aca-bench sweep --task mnist_patch --algorithm erm --alphas 0.1 --seeds 1 --set n_train=1000
        --set epochs=3 --set batch_size=32 --out DIR --device cpu
with the fields that name the machine or the time (`VOLATILE`) left out. Run ids, configurations,
counts and the strategy must match exactly; metrics up to `RATE_TOL`: a few of the 900 or 1,000
scored digits may flip where another CPU rounds a sum differently, a changed seed, model or update
moves them by far more (0.878 vs 0.782 clean accuracy between the two cells here).
"""

import json
import math
from pathlib import Path

import pytest

FIXTURE = Path(__file__).parent / "fixtures" / "same_records.jsonl"
VOLATILE = {"environment", "finished_at", "wall_time_s", "stack_wall_time_s"}
RATE_TOL = 0.01  # 9 of the 900 success-scored digits


def _read(path: Path) -> dict[str, dict]:
    return {r["run_id"]: r for r in map(json.loads, path.read_text().splitlines())}


@pytest.mark.usefixtures("one_thread")
def test_a_small_sweep_writes_the_committed_records(cli, tmp_path):
    res = cli(
        "sweep", "--task", "mnist_patch", "--algorithm", "erm", "--alphas", "0.1", "--seeds", "1",
        "--set", "n_train=1000", "--set", "epochs=3", "--set", "batch_size=32",
        "--out", tmp_path, "--device", "cpu",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    want, got = _read(FIXTURE), _read(tmp_path / "records.jsonl")
    assert sorted(got) == sorted(want) and len(want) == 2
    for run_id, w in want.items():
        g = {k: v for k, v in got[run_id].items() if k not in VOLATILE}
        assert set(g) == set(w)
        assert {k: g[k] for k in w if k != "metrics"} == {k: w[k] for k in w if k != "metrics"}
        assert set(g["metrics"]) == set(w["metrics"])
        for name, value in w["metrics"].items():
            if isinstance(value, int):
                assert g["metrics"][name] == value, name
            else:
                assert math.isclose(g["metrics"][name], value, abs_tol=RATE_TOL), (name, g["metrics"][name])
