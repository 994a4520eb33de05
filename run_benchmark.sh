#!/usr/bin/env bash
# aca-bench's one entry point (also the Docker image's entrypoint).
#   ./run_benchmark.sh [--suite quick|paper|NAME|FILE.yaml] [--device auto|cpu|cuda] [--out DIR] [ARGS...]
#   ./run_benchmark.sh --tests [PYTEST ARGS...]
# Sets itself up on first use (a virtual environment in .venv with the project installed), runs the
# suite into DIR (the results store), builds the leaderboard site into DIR/site and prints alpha*.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
suite="${ACA_BENCH_SUITE:-quick}"
device=auto
out="${ACA_BENCH_OUT:-$here/results}"
mode=run
extra=()

usage() {
  cat <<'USAGE'
aca-bench: how large must a collective be (alpha*) to steer a learning algorithm?

Usage: run_benchmark.sh [--suite NAME|FILE] [--device auto|cpu|cuda] [--out DIR] [-- aca-bench run options]
       run_benchmark.sh --tests [pytest options]

  --suite   built-in suite (quick: embedded MNIST, CPU, minutes; paper: full MNIST, GPU-sized;
            see `aca-bench list suites`) or a suite YAML file.
            [default: $ACA_BENCH_SUITE, else quick; the Docker image sets standard]
  --device  auto picks CUDA when a GPU is visible, else the CPU.         [default: auto]
  --out     results folder: records.jsonl (the store) and site/ (the leaderboard).
            [default: ./results; /out in the Docker image]
  --tests   set up with test extras and run the test suite (pytest) and ruff.
            With AVX-512, the tests marked trains run again on torch's AVX2 kernels.
  other arguments go to `aca-bench run` (e.g. --force, --max-stack 32, --algorithm NAME).

Any other aca-bench command: run_benchmark.sh aca-bench COMMAND ... (e.g. aca-bench --help)
USAGE
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --suite) suite="$2"; shift 2 ;;
    --suite=*) suite="${1#*=}"; shift ;;
    --device) device="$2"; shift 2 ;;
    --device=*) device="${1#*=}"; shift ;;
    --out) out="$2"; shift 2 ;;
    --out=*) out="${1#*=}"; shift ;;
    --tests) mode=tests; shift ;;
    aca-bench) mode=cli; shift; extra=("$@"); break ;;
    *) extra+=("$1"); shift ;;
  esac
done

# PyTorch with its CUDA libraries takes 5.5 GB in the venv, and pip needs room for the wheels while it
# installs them: say so in one line up front rather than fail halfway with pip's OSError.
check_space() {
  local dir="$1" need_gb=8 free_kb mount
  while [[ ! -d "$dir" ]]; do dir="$(dirname "$dir")"; done
  read -r free_kb mount < <(df -Pk "$dir" | awk 'NR == 2 {print $4, $6}')
  if [[ -n "$free_kb" ]] && (( free_kb < need_gb * 1024 * 1024 )); then
    echo "error: setting up $1 needs about $need_gb GB free (PyTorch is 5.5 GB);" \
         "$(( free_kb / 1024 / 1024 )) GB free on $mount" >&2
    exit 2
  fi
}

setup() {
  # Use an environment that already has aca-bench (the Docker image), else make .venv.
  if [[ -z "${ACA_BENCH_FORCE_VENV:-}" ]] && command -v aca-bench >/dev/null 2>&1 \
      && [[ $mode != tests ]]; then
    return
  fi
  local venv="${ACA_BENCH_VENV:-$here/.venv}" py="${PYTHON:-python3.11}"
  command -v "$py" >/dev/null 2>&1 || py=python3
  if [[ ! -x "$venv/bin/python" ]]; then
    echo "setting up $venv (first run: installs PyTorch and the project; a few minutes)" >&2
    "$py" -m venv "$venv"
  fi
  local extras="" stamp
  [[ $mode == tests ]] && extras="[test,ray]"
  stamp="$venv/.aca-bench-installed$extras-$(cat "$here/pyproject.toml" | sha256sum | cut -c1-16)"
  if [[ ! -f "$stamp" ]]; then
    "$venv/bin/python" -c 'import torch' >/dev/null 2>&1 || check_space "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    # torch first, pinned to the release the project is tested with (a local wheel where one exists).
    "$venv/bin/python" -m pip install --quiet "torch==2.14.1" "torchvision==0.29.1"
    "$venv/bin/python" -m pip install --quiet -e "$here$extras"
    touch "$stamp"
  fi
  export PATH="$venv/bin:$PATH"
}

setup
out="$(realpath -m "$out")"
cd "$here"
case $mode in
  tests)
    if [[ ! -d tests ]]; then
      echo "error: --tests needs a source checkout (this installation has no tests/)" >&2
      exit 2
    fi
    # two commands, not an && list: under set -e a failure on the left of && would not stop the script
    ruff check .
    ruff format --check .
    python -m pytest -q "${extra[@]}"
    # Trained numbers differ in their last bits between torch's kernel families, and CI may run on
    # another processor: where torch picked wider kernels than AVX2 (AVX-512), the tests that train
    # run once more on the AVX2 family, so a verdict that holds on one family only fails here too.
    # Not with pytest arguments of the caller's (a chosen test or -k runs once, as asked).
    capability="$(python -c 'import torch; print(torch.backends.cpu.get_cpu_capability())')"
    if [[ ${#extra[@]} -eq 0 && $capability != AVX2 && $capability != DEFAULT ]]; then
      echo "again on torch's AVX2 kernels (default here: $capability): the tests marked trains"
      ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 python -m pytest -q -m "trains and not gpu"
    fi
    exit 0
    ;;
  cli)
    exec aca-bench "${extra[@]}"
    ;;
esac

if [[ $device == auto ]] && ! python -c 'import sys, torch; sys.exit(not torch.cuda.is_available())'; then
  echo "no GPU visible: running on the CPU" >&2
fi
if ! { mkdir -p "$out" && touch "$out/.write-test"; } 2>/dev/null; then
  echo "error: results folder '$out' is not writable by uid $(id -u); in Docker, chown it to that uid" \
       "or run with --user \"\$(id -u):\$(id -g)\"" >&2
  exit 2
fi
rm -f "$out/.write-test"
trap 'echo "interrupted: rerun the same command to resume" >&2; exit 130' INT TERM
aca-bench run "$suite" --out "$out" --device "$device" "${extra[@]}"
if aca-bench leaderboard --help >/dev/null 2>&1; then
  aca-bench leaderboard build --results "$out" --out "$out/site"
  echo "leaderboard site: $out/site/index.html"
fi
echo "results store: $out/records.jsonl"
