"""Build the static leaderboard site: a pure function of the results store and the registry cards.

The numbers come from `aca_bench.benchmark.aggregate` (runs, curves, critical, group and privacy tables); the
cards, suites and task descriptions are read as data (`aca_bench.leaderboard.sources`), so the build imports
neither torch nor Opacus. The same records, cards and target give byte-identical files: nothing
depends on the time of the build, the order of the filesystem, or where the checkout lives.

Modules by job: `sources` (cards, suites, task text), `rows` (ranking, settings, provenance),
`pages` (page models, trade-off plots), `plots` (SVG), `downloads` (strict JSON, CSV), `text`
(formatting, escaped Markdown); this one renders the templates and writes the folder.

Layout of the output folder:
    index.html                    per-task ranked, sortable tables of alpha* (+ downloads)
    tasks/<task>.html             description, S(alpha) curves, trade-off plots, per-alpha/group tables
    algorithms/<name>.html        the registry card, the grids the suites run, results across tasks
    methodology.html              S, alpha*, target, ranking, intervals, software and hardware
    scaling.html, privacy.html    alpha* against n; against epsilon and C per store (when swept)
    submit.html                   how to submit an algorithm (registry entry, validate, CI)
    plots/*.svg, data/*.csv|json, assets/*
"""

import json
from collections import Counter
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from aca_bench.benchmark.aggregate import (
    critical_table,
    curves,
    group_table,
    privacy_table,
    runs_frame,
)
from aca_bench.benchmark.critical import MIN_SEEDS_FOR_INTERVAL, TARGET
from aca_bench.benchmark.errors import BenchError
from aca_bench.benchmark.ids import canonical
from aca_bench.benchmark.store import DAMAGED, LEASES, RECORDS, SITE_MARKER, fault, load_records
from aca_bench.leaderboard.downloads import downloads
from aca_bench.leaderboard.headline import headline, standard_settings
from aca_bench.leaderboard.pages import algorithm_page, task_page
from aca_bench.leaderboard.privacy_plot import privacy_page
from aca_bench.leaderboard.rows import ORDER_NOTE, common_settings, make_rows
from aca_bench.leaderboard.scaling_plot import scaling_page
from aca_bench.leaderboard.sources import Card, SuiteGrid, read_cards, suite_grids, task_descriptions
from aca_bench.leaderboard.text import DASH

HERE = Path(__file__).parent
SITE_NAME = "aca-bench leaderboard"


def _environments(records: list[dict]) -> list[dict]:
    counts = Counter(canonical(r["environment"]) for r in records if isinstance(r.get("environment"), dict))
    out = []
    for text, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        env = json.loads(text)
        pkgs = env.get("packages") or {}
        out.append(
            {
                "runs": n,
                "packages": ", ".join(f"{k} {v}" for k, v in sorted(pkgs.items()) if v is not None),
                "python": str(env.get("python", DASH)),
                "platform": str(env.get("platform", DASH)),
                "device": " / ".join(str(env[k]) for k in ("device", "device_name") if env.get(k)) or DASH,
                "threads": str(env.get("threads", DASH)),
                "git_commit": str(env.get("git_commit") or DASH),
            }
        )
    return out


def _software() -> str:
    try:
        return f"aca-bench {version('aca-bench')}"
    except PackageNotFoundError:
        return "aca-bench"


def environment() -> Environment:
    """The Jinja2 environment of the site: autoescape on, undefined variables are errors."""
    return Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render(
    records: list[dict],
    cards: dict[str, Card],
    target: float = TARGET,
    damaged: int = 0,
    grids: dict[str, list[SuiteGrid]] | None = None,
    descriptions: dict[str, str] | None = None,
    stores: dict[str, list[dict]] | None = None,
) -> dict[str, bytes]:
    """Every file of the site (relative path -> bytes) from run records and registry cards; `stores`
    (store name -> its records, default: all records as one store "results") names the privacy
    page's series."""
    if not records:
        raise BenchError("no intact run records to build a leaderboard from")
    grids = suite_grids() if grids is None else grids
    descriptions = task_descriptions() if descriptions is None else descriptions
    runs = runs_frame(records)
    cur, crit = curves(runs), critical_table(runs, target)
    groups, privacy = group_table(runs), privacy_table(runs)
    common = common_settings(crit)
    files: dict[str, bytes] = {}
    tasks = []
    settings = standard_settings(grids)
    for t in sorted(crit["task"].unique()):
        mine = crit[crit["task"] == t]
        head = mine[mine["config_id"].isin(headline(list(mine["config_id"]), settings))]
        tasks.append(
            task_page(
                t,
                make_rows(mine, common),
                make_rows(head, common),
                mine,
                cur[cur["task"] == t],
                runs[runs["task"] == t],
                groups[groups["task"] == t],
                privacy[privacy["task"] == t],
                records,
                cards,
                descriptions.get(t, ""),
                target,
                files,
            )
        )
    all_rows = [row for t in tasks for row in t.rows]
    algos = [
        algorithm_page(
            name,
            cards.get(name),
            [r for r in all_rows if r.algorithm == name],
            common.get(name, {}),
            grids.get(name, []),
        )
        for name in sorted(set(cards) | set(crit["algorithm"]))
    ]
    files.update(downloads(crit, cur, target))
    scaling, scaling_files = scaling_page(records if stores is None else stores, target)
    files.update(scaling_files)
    privacy_ctx, privacy_files = privacy_page({"results": records} if stores is None else stores, target)
    files.update(privacy_files)
    env = environment()
    common_ctx = {
        "tasks": tasks,
        "algorithms": algos,
        "target": target,
        "software": _software(),
        "min_interval_seeds": MIN_SEEDS_FOR_INTERVAL,
        "order_note": ORDER_NOTE,
        "site_name": SITE_NAME,
        "has_scaling": scaling is not None,
        "has_privacy": privacy_ctx is not None,
    }
    pages = {
        "index.html": ("index.html", {}),
        "methodology.html": (
            "methodology.html",
            {"environments": _environments(records), "n_records": len(records), "damaged": damaged},
        ),
        "submit.html": ("submit.html", {}),
    }
    if scaling is not None:
        pages["scaling.html"] = ("scaling.html", scaling)
    if privacy_ctx is not None:
        pages["privacy.html"] = ("privacy.html", privacy_ctx)
    for t in tasks:
        pages[f"tasks/{t.slug}.html"] = ("task.html", {"task": t})
    for a in algos:
        pages[f"algorithms/{a.slug}.html"] = ("algorithm.html", {"algo": a})
    for path, (template, ctx) in pages.items():
        root = "../" * path.count("/")
        html = env.get_template(template).render(root=root, page=path, **common_ctx, **ctx)
        files[path] = html.encode()
    for asset in sorted((HERE / "assets").iterdir()):
        if asset.is_file():
            files[f"assets/{asset.name}"] = asset.read_bytes()
    files[SITE_MARKER] = _manifest(files)
    return dict(sorted(files.items()))


MANIFEST_HEADER = b"written by aca-bench leaderboard build; the next build replaces these files:\n"


def _manifest(files: dict[str, bytes]) -> bytes:
    """The marker's text: a header, then each file of the site (relative path), one a line."""
    return MANIFEST_HEADER + b"".join(f"{rel}\n".encode() for rel in sorted(files) if rel != SITE_MARKER)


def _written_before(out: Path) -> list[Path]:
    """The files the last build wrote into `out`, as its marker lists them: only paths inside `out`
    that are plain files (a marker of an older build lists none, so nothing is deleted)."""
    root = out.resolve()
    listed = []
    for line in (out / SITE_MARKER).read_text(errors="replace").splitlines()[1:]:
        path = out / line
        if line and not path.is_symlink() and path.is_file() and root in path.resolve().parents:
            listed.append(path)
    return listed


def write_site(files: dict[str, bytes], out: str | Path) -> list[str]:
    """Write the site `files` into `out`, replacing the files the last build wrote there and nothing
    else: a file the build did not write (records a sweep put there, notes) is never deleted. A folder
    that holds a results store, or is not empty and holds no site, is refused."""
    out = Path(out)
    if out.exists():
        if not out.is_dir():
            raise BenchError(f"--out {out} exists and is not a folder")
        store = [name for name in (RECORDS, DAMAGED, LEASES) if (out / name).exists()]
        if store:
            raise BenchError(
                f"--out {out} holds a results store ({store[0]}); a site is written to a folder of its own"
            )
        if any(out.iterdir()):
            if not (out / SITE_MARKER).exists():
                raise BenchError(
                    f"--out {out} is not empty and holds no leaderboard site; choose an empty or new folder"
                )
            for old in _written_before(out):
                if old.relative_to(out).as_posix() not in files:
                    old.unlink()
                    _prune(old.parent, out)
    try:
        for rel, data in files.items():
            path = out / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    except OSError as exc:
        raise BenchError(f"--out {out}: cannot write the site: {fault(exc)}") from None
    return [p for p in files if p != SITE_MARKER]


def _prune(folder: Path, out: Path) -> None:
    """Remove `folder` and its parents up to `out` while they are empty (a page the build no longer
    writes leaves no empty folder behind)."""
    while folder != out and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent


@dataclass
class BuildResult:
    pages: list[str]
    warnings: list[str]


def stores(folder: str | Path) -> list[Path]:
    """The results stores a folder holds: itself, or else every subfolder with a records file
    (`leaderboard/reference/` holds one store per suite)."""
    folder = Path(folder)
    if (folder / RECORDS).exists() or not folder.is_dir():
        return [folder]
    return sorted(p.parent for p in folder.glob(f"*/{RECORDS}")) or [folder]


def build_site(
    results: str | Path | list[str | Path],
    out: str | Path,
    registry_paths: list[Path] | None = None,
    target: float = TARGET,
) -> BuildResult:
    """Read the stores in `results` (one folder or several, each a store or a folder of stores) and the
    registry cards, render the site, write it to `out`."""
    folders = [s for f in (results if isinstance(results, list) else [results]) for s in stores(f)]
    records, damaged, by_store = [], [], {}
    for folder in folders:
        more, problems = load_records(folder)
        # Runs scored on a validation split chose hyperparameters (e.g. dp_select); they are not results.
        more = [r for r in more if r["task"]["params"].get("eval_split", "test") == "test"]
        records += more
        damaged += problems
        # The privacy page's series are named by store (two folders of one name: the later one gets a suffix).
        name = folder.name if folder.name not in by_store else f"{folder.name} ({len(by_store) + 1})"
        by_store[name] = more
    if not records:
        raise BenchError(f"no intact run records scored on a test set in {', '.join(map(str, folders))}")
    cards, problems = read_cards(list(registry_paths or []))
    files = render(records, cards, target, damaged=len(damaged), stores=by_store)
    written = write_site(files, out)
    warnings = [*damaged, *(f"registry card skipped: {p}" for p in problems)]
    return BuildResult(written, warnings)
