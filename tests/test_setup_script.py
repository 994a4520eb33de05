"""run_benchmark.sh's first-run setup: too little disk is one line up front, not pip's OSError halfway."""

import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "run_benchmark.sh"


def _fake_df(bin_dir: Path, free_kb: int) -> None:
    """A `df` that reports `free_kb` KiB available on a filesystem mounted at /data."""
    df = bin_dir / "df"
    df.write_text(
        "#!/bin/sh\n"
        'echo "Filesystem 1024-blocks Used Available Capacity Mounted on"\n'
        f'echo "/dev/x 99999999 1 {free_kb} 1% /data"\n'
    )
    df.chmod(0o755)


def _setup(tmp_path: Path, free_kb: int) -> subprocess.CompletedProcess:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _fake_df(bin_dir, free_kb)
    env = {
        "PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin",
        "ACA_BENCH_FORCE_VENV": "1",
        "ACA_BENCH_VENV": str(tmp_path / "venv"),
        # A pip with no index, no wheel folder and no config: past the check it fails fast, offline.
        "PIP_CONFIG_FILE": "/dev/null",
        "PIP_NO_INDEX": "1",
    }
    return subprocess.run(
        ["bash", str(SCRIPT), "aca-bench", "--help"], env=env, capture_output=True, text=True, timeout=300
    )


def test_too_little_disk_is_a_one_line_error_before_pip_runs(tmp_path):
    res = _setup(tmp_path, free_kb=3 * 1024 * 1024)
    assert res.returncode == 2
    errors = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: setting up {tmp_path / 'venv'} needs about 8 GB free (PyTorch is 5.5 GB); 3 GB free on /data"
    ]
    assert not list(tmp_path.glob("venv/lib/python*/site-packages/torch"))
    assert "Traceback" not in res.stderr and "OSError" not in res.stderr


def test_enough_disk_passes_the_check(tmp_path):
    res = _setup(tmp_path, free_kb=9 * 1024 * 1024)
    # Past the check, pip runs and, with nowhere to look, fails to find torch.
    assert "needs about 8 GB free" not in res.stderr
    assert res.returncode != 0
    assert "No matching distribution found for torch==" in res.stderr
