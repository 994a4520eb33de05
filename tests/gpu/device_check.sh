#!/usr/bin/env bash
# The GPU checks of issue 7, as one short script for a lent device machine (15 minutes in all).
#
# Prepare here (pure-Python wheels the device lacks; .wheels/ is git-ignored):
#   pip download --no-deps -d .wheels opacus==1.6.0 mlxtend==0.25.0 opt_einsum
# (opacus also needs scipy: where the device's Python lacks it, add a scipy wheel for that Python.)
# Run there (run tool: carry [".wheels"], timeout_s 560), then fetch $OUT:
#   bash tests/gpu/device_check.sh
#
# It installs the project without touching the machine's torch, runs the CUDA tests (-m gpu), times
# the stacked engine against the naive per-model loop on 60,000 MNIST-shaped examples (fp32, then
# bf16), and times the `paper` suite on 60,000 digits made by tiling the embedded ones (the device
# cannot download MNIST: the timing is real, the alpha* values of that run mean nothing) until its
# time budget runs out; the records written by then give its throughput. Everything is logged under
# $OUT; the perf rows also as records in $OUT/perf (commit them as leaderboard/reference/perf/cuda and
# render them with view=perf, as docs/performance.md does the CPU's). Knobs: DEVICE (cuda), N_TRAIN (60000), STACK (64), STACK_WIDE (256),
# PAPER_SECONDS (240). The paper suite sizes its stacks to the free memory (benchmark/sizing.py).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
OUT=${OUT:-$(mktemp -d)}
DEVICE=${DEVICE:-cuda}
N_TRAIN=${N_TRAIN:-60000}
STACK=${STACK:-64}
STACK_WIDE=${STACK_WIDE:-256}
PAPER_SECONDS=${PAPER_SECONDS:-240}
log() { echo "== $* ($(date +%T))" | tee -a "$OUT/summary.txt"; }

if ! python -c "import opacus, mlxtend" 2>/dev/null; then
    python -m pip install -q --no-deps .wheels/*.whl
fi
python -m pip install -q --no-deps -e . >"$OUT/install.log" 2>&1 || { log "install failed"; exit 1; }
nvidia-smi >"$OUT/nvidia-smi.txt" 2>&1
python -c "import sys, torch, opacus, mlxtend; print('python', sys.version.split()[0], 'torch', torch.__version__)" \
    2>&1 | tail -1 | tee -a "$OUT/summary.txt"

log "CUDA tests"
python -m pytest -q -m gpu -p no:cacheprovider tests 2>&1 | tail -15 | tee -a "$OUT/summary.txt"

for precision in fp32 bf16; do
    log "perf $precision"
    aca-bench perf --n-train "$N_TRAIN" --stack "$STACK" --naive-models 2 --epochs 1 \
        --device "$DEVICE" --precision "$precision" --out "$OUT/perf" 2>&1 | grep -v -i warn | tee -a "$OUT/summary.txt"
done
log "perf bf16, a stack of $STACK_WIDE"
aca-bench perf --n-train "$N_TRAIN" --stack "$STACK_WIDE" --naive-models 1 --epochs 1 \
    --device "$DEVICE" --precision bf16 --out "$OUT/perf" 2>&1 | grep -v -i warn | tee -a "$OUT/summary.txt"

log "paper suite on $N_TRAIN tiled digits, at most $PAPER_SECONDS s"
export ACA_BENCH_MNIST_DIR="$OUT/tiled-mnist"
python - "$N_TRAIN" <<'PY'
import os, sys
from pathlib import Path
from aca_bench.benchmark.perf.throughput import tiled
from aca_bench.tasks import mnist_data
from aca_bench.tasks.base import TaskData
x, y, xt, yt = mnist_data.load_embedded()
big = tiled(TaskData(x, y, xt, yt), int(sys.argv[1]))
root = Path(os.environ["ACA_BENCH_MNIST_DIR"]); root.mkdir(parents=True, exist_ok=True)
for name, arr in (("train-images-idx3-ubyte", big.x_train[:, 0]), ("train-labels-idx1-ubyte", big.y_train),
                  ("t10k-images-idx3-ubyte", xt[:, 0]), ("t10k-labels-idx1-ubyte", yt)):
    mnist_data.write_idx(root / name, arr.numpy())
PY
start=$(date +%s)
timeout "$PAPER_SECONDS" aca-bench run paper --out "$OUT/paper" --device "$DEVICE" >"$OUT/paper.log" 2>&1
echo "exit $? after $(( $(date +%s) - start )) s" | tee -a "$OUT/summary.txt"
python - "$OUT/paper/records.jsonl" <<'PY' | tee -a "$OUT/summary.txt"
import json, sys
from pathlib import Path
p = Path(sys.argv[1])
recs = [json.loads(line) for line in p.read_text().splitlines()] if p.exists() else []
by = {}
for r in recs:
    key = (r["experiment"], r["algorithm"]["hparams"].get("precision"))
    n, secs, epochs, width = by.get(key, (0, 0.0, 0, 0))
    by[key] = (n + 1, secs + r["wall_time_s"], epochs + r["algorithm"]["hparams"]["epochs"],
               max(width, r["stack_size"]))
for (exp, _), (n, secs, epochs, width) in sorted(by.items()):
    print(f"{exp}: {n} runs, {epochs} model-epochs, {secs:.0f} s of stack time, "
          f"{60 * epochs / max(secs, 1e-9):.0f} model-epochs/min, widest stack {width}")
print(f"records: {len(recs)}")
PY
rm -rf "$ACA_BENCH_MNIST_DIR"
