"""Build the static leaderboard site: a pure function of the results store and the algorithm registry.

The numbers come from `benchmark.aggregate` (runs_frame, curves, critical_table); this module only
arranges them into pages. The same records, registry and target give byte-identical files: nothing
depends on the time of the build, the order of the filesystem, or where the checkout lives.

Layout of the output folder:
    index.html                    per-task sortable tables of alpha* (+ downloads)
    tasks/<task>.html             S(alpha) curves, trade-off plots, per-alpha and per-group tables
    algorithms/<name>.html        the registry card and the algorithm's results across tasks
    methodology.html              S, alpha*, target, strategies, intervals, software and hardware
    plots/*.svg, data/*.csv|json, assets/*
"""

import hashlib
import inspect
import json
import math
import re
import shutil
from collections import Counter
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from algorithms import registry
from benchmark.aggregate import TARGET, critical_table, curves, runs_frame
from benchmark.critical import critical_mass
from benchmark.errors import BenchError
from benchmark.plan import canonical
from benchmark.store import load_records
from leaderboard.plots import TradeoffPoint, curves_svg, finite, tradeoff_svg

HERE = Path(__file__).parent
SITE_MARKER = ".aca-bench-site"
# Hyperparameters that define the x axis of a trade-off plot, and those left out of its series names.
EPSILON_AXIS = ("target_epsilon", "noise_multiplier", "epsilon")
CLIP_AXIS = ("max_grad_norm",)
PRIVACY_HPARAMS = ("target_epsilon", "target_delta", "delta", "max_grad_norm", "noise_multiplier")
DASH = "\u2013"


def slug(name: str) -> str:
    """A file-name-safe, unique form of a task or algorithm name (a hash suffix when it had to change)."""
    safe = re.sub(r"[^a-z0-9_-]+", "-", str(name).lower()).strip("-") or "x"
    if safe == name:
        return safe
    return f"{safe}-{hashlib.sha256(str(name).encode()).hexdigest()[:8]}"


def safe_url(url: Any) -> str | None:
    """The URL when it is plain http(s), else None (shown as text: no javascript: links)."""
    if not isinstance(url, str):
        return None
    return url if urlparse(url).scheme in ("http", "https") and urlparse(url).netloc else None


def _num(x: Any, spec: str) -> str:
    v = finite(x)
    return DASH if v is None else format(v, spec)


def _sort(x: Any) -> str:
    """A cell's data-sort-value: '' when missing, 'Infinity' for inf (what JavaScript's Number reads)."""
    v = finite(x)
    if v is None:
        return ""
    return repr(v) if math.isfinite(v) else ("Infinity" if v > 0 else "-Infinity")


def json_safe(obj: Any) -> Any:
    """Strict JSON: NaN -> null, +-inf -> the strings "inf"/"-inf" (e.g. epsilon of a non-private run)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    return obj


@dataclass
class Row:
    """One configuration of one task as the tables show it."""

    task: str
    task_slug: str
    config: str
    algorithm: str
    algorithm_slug: str
    status: str
    alpha_star: str
    alpha_star_sort: str
    interval: str
    s0: str
    s0_sort: str
    clean: str
    clean_sort: str
    worst: str
    worst_sort: str
    epsilon: str
    epsilon_sort: str
    seeds: int
    runs: int


@dataclass
class Plot:
    title: str
    path: str
    alt: str


@dataclass
class TaskPage:
    name: str
    slug: str
    rows: list[Row]
    has_groups: bool
    has_epsilon: bool
    plots: list[Plot] = field(default_factory=list)
    curves: list[dict] = field(default_factory=list)
    groups: dict = field(default_factory=dict)
    privacy: list[dict] = field(default_factory=list)
    strategies: list[list[tuple[str, str]]] = field(default_factory=list)
    versions: list[str] = field(default_factory=list)
    params: list[list[tuple[str, str]]] = field(default_factory=list)
    largest_alpha: float = 0.0


@dataclass
class AlgorithmPage:
    name: str
    slug: str
    card: dict | None
    hparams: list[dict]
    rows: list[Row]


def _alpha_cells(r: Any) -> tuple[str, str, str]:
    """(display, sort value, interval) of alpha*; not reached sorts after every number."""
    low, high = finite(r.alpha_star_low), finite(r.alpha_star_high)
    interval = ""
    if low is not None or high is not None:
        interval = (
            f"[{DASH if low is None else format(low, '.3g')}, "
            f"{'not reached' if high is None else format(high, '.3g')}]"
        )
    if r.status == "reached":
        return format(r.alpha_star, ".3g"), repr(float(r.alpha_star)), interval
    if r.status == "at_most":
        return f"\u2264 {r.alpha_star:.3g}", repr(float(r.alpha_star)), interval
    if r.status == "not_reached":
        return "not reached", "Infinity", interval
    return str(r.status), "", ""


def _rows(crit: pd.DataFrame) -> list[Row]:
    rows = []
    for r in crit.itertuples():
        shown, sort_key, interval = _alpha_cells(r)
        rows.append(
            Row(
                task=r.task,
                task_slug=slug(r.task),
                config=r.config,
                algorithm=r.algorithm,
                algorithm_slug=slug(r.algorithm),
                status=r.status,
                alpha_star=shown,
                alpha_star_sort=sort_key,
                interval=interval,
                s0=_num(r.success_at_0, ".3f"),
                s0_sort=_sort(r.success_at_0),
                clean=_num(r.clean_accuracy_at_0, ".3f"),
                clean_sort=_sort(r.clean_accuracy_at_0),
                worst=_num(r.worst_group_accuracy_at_0, ".3f"),
                worst_sort=_sort(r.worst_group_accuracy_at_0),
                epsilon=_num(r.epsilon, ".3g"),
                epsilon_sort=_sort(r.epsilon),
                seeds=int(r.seeds),
                runs=int(r.runs),
            )
        )
    rank = {"reached": 0, "at_most": 0, "not_reached": 1}
    return sorted(rows, key=lambda x: (rank.get(x.status, 2), float(x.alpha_star_sort or math.inf), x.config))


def _hparams(config_id: str) -> dict:
    return json.loads(config_id)["algorithm"]["hparams"]


def _pairs(d: dict) -> list[tuple[str, str]]:
    return [
        (str(k), json.dumps(v, sort_keys=True) if not isinstance(v, str) else v) for k, v in sorted(d.items())
    ]


def _tradeoff(task: str, crit: pd.DataFrame, axis: tuple[str, ...], use_epsilon: bool) -> list[TradeoffPoint]:
    """Points of alpha* against the first of `axis` (or the epsilon spent); [] unless it is swept."""
    points = []
    hps = {r.config_id: _hparams(r.config_id) for r in crit.itertuples()}
    exclude = set(axis) | (set(EPSILON_AXIS) if use_epsilon else set())
    varying = {
        k
        for k in {k for h in hps.values() for k in h}
        if len({canonical(h.get(k)) for h in hps.values()}) > 1
    }
    for r in crit.itertuples():
        hp = hps[r.config_id]
        x = finite(r.epsilon) if use_epsilon else None
        if x is None:
            x = next((finite(hp[k]) for k in axis if finite(hp.get(k)) is not None), None)
        if x is None or not math.isfinite(x):  # a non-private reference has no place on the axis
            continue
        extra = [f"{k}={hp[k]}" for k in sorted(varying - exclude) if k in hp]
        series = r.algorithm + (f" ({', '.join(extra)})" if extra else "")
        points.append(
            TradeoffPoint(
                series, x, finite(r.alpha_star), r.status, finite(r.alpha_star_low), finite(r.alpha_star_high)
            )
        )
    if len({p.x for p in points}) < 2:
        return []
    return points


def _task_page(
    task: str,
    crit: pd.DataFrame,
    cur: pd.DataFrame,
    runs: pd.DataFrame,
    records: list[dict],
    target: float,
    files: dict[str, bytes],
) -> TaskPage:
    s = slug(task)
    mine = runs[runs["task"] == task]
    recs = [records[i] for i in mine.index]
    page = TaskPage(
        task,
        s,
        _rows(crit),
        has_groups=bool(crit["worst_group_accuracy_at_0"].notna().any()),
        has_epsilon=bool(crit["epsilon"].notna().any()),
        largest_alpha=float(mine["alpha"].max()),
    )
    files[f"plots/{s}-curves.svg"] = curves_svg(task, cur, crit, target)
    page.plots.append(
        Plot(
            "S(alpha) per configuration",
            f"plots/{s}-curves.svg",
            f"Success S against alpha for each configuration of {task}",
        )
    )
    for name, axis, use_eps, label in (
        ("epsilon", EPSILON_AXIS, True, "privacy epsilon (spent)"),
        ("clip", CLIP_AXIS, False, "clipping threshold C"),
    ):
        points = _tradeoff(task, crit, axis, use_eps)
        if points:
            path = f"plots/{s}-alpha-vs-{name}.svg"
            files[path] = tradeoff_svg(task, points, label, page.largest_alpha)
            page.plots.append(Plot(f"alpha* against {label}", path, f"alpha* against {label} for {task}"))
    for config, df in cur.groupby("config", sort=True):
        page.curves.append(
            {
                "config": config,
                "points": [
                    {
                        "alpha": f"{p.alpha:.4g}",
                        "members": int(p.n_collective),
                        "mean": f"{p.success_mean:.3f}",
                        "std": f"{p.success_std:.3f}",
                        "clean": f"{p.clean_accuracy:.3f}",
                        "seeds": int(p.seeds),
                    }
                    for p in df.sort_values("alpha").itertuples()
                ],
            }
        )
    page.groups = _group_table(mine, recs)
    page.privacy = _privacy_table(crit, mine, recs)
    page.strategies = [
        _pairs(json.loads(t)) for t in sorted({canonical(r.get("strategy", {})) for r in recs})
    ]
    page.versions = sorted({str(r["task"].get("version", "")) for r in recs})
    page.params = [
        _pairs(json.loads(t)) for t in sorted({canonical(r["task"].get("params", {})) for r in recs})
    ]
    return page


def _group_table(mine: pd.DataFrame, recs: list[dict]) -> dict:
    """Per configuration, mean accuracy of each group at alpha = 0 (tasks whose records have groups)."""
    acc: dict[str, dict[str, list[float]]] = {}
    for (_, row), rec in zip(mine.iterrows(), recs, strict=True):
        groups = rec["metrics"].get("group_accuracy")
        if row["alpha"] == 0.0 and isinstance(groups, dict):
            for g, v in groups.items():
                acc.setdefault(row["config"], {}).setdefault(str(g), []).append(float(v))
    if not acc:
        return {}
    names = sorted({g for per in acc.values() for g in per})
    return {
        "groups": names,
        "rows": [
            {
                "config": c,
                "values": [f"{sum(per[g]) / len(per[g]):.3f}" if per.get(g) else DASH for g in names],
            }
            for c, per in sorted(acc.items())
        ],
    }


def _privacy_table(crit: pd.DataFrame, mine: pd.DataFrame, recs: list[dict]) -> list[dict]:
    """Privacy settings per configuration (hparams and what the algorithm recorded), where present."""
    out = []
    for r in crit.itertuples():
        hp = _hparams(r.config_id)
        extras = [
            rec.get("algorithm_record") or {}
            for (_, row), rec in zip(mine.iterrows(), recs, strict=True)
            if row["config_id"] == r.config_id
        ]
        noise = [
            finite(e.get("noise_multiplier")) for e in extras if finite(e.get("noise_multiplier")) is not None
        ]
        delta = next(
            (e["delta"] for e in extras if finite(e.get("delta")) is not None),
            hp.get("target_delta", hp.get("delta")),
        )
        shown = {k: hp[k] for k in PRIVACY_HPARAMS if k in hp}
        if not shown and not noise and finite(r.epsilon) is None:
            continue
        out.append(
            {
                "config": r.config,
                "target_epsilon": _num(hp.get("target_epsilon"), ".3g"),
                "epsilon": _num(r.epsilon, ".3g"),
                "delta": _num(delta, ".2g"),
                "noise": _num(max(noise) if noise else None, ".3g"),
                "clip": _num(hp.get("max_grad_norm"), ".3g"),
            }
        )
    return out


def _card(entry: registry.Entry | None) -> tuple[dict | None, list[dict]]:
    if entry is None:
        return None, []
    c = entry.card
    source = Path(entry.source).name if not entry.source.startswith("entry point") else entry.source
    card = {
        "description": str(c.get("description", "")),
        "implementation": str(c.get("implementation", "")),
        "authors": ", ".join(map(str, c.get("authors") or [])),
        "license": str(c.get("license", "")),
        "paper": str(c.get("paper", "")),
        "paper_url": safe_url(c.get("paper")),
        "code": str(c.get("code", "")),
        "code_url": safe_url(c.get("code")),
        "needs": ", ".join(map(str, c.get("needs") or [])) or "nothing beyond the task's data",
        "stackable": "yes (trained in stacks with vmap)"
        if c.get("stackable")
        else "no (one model at a time)",
        "grid": _pairs(c.get("grid") or {}),
        "source": source,
    }
    hparams = [
        {
            "name": k,
            "default": json.dumps(p.default),
            "type": p.type.__name__,
            "help": p.help,
            "per_model": k in entry.cls.per_model,
        }
        for k, p in entry.cls.hparams.items()
    ]
    return card, hparams


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
                "git_commit": str(env.get("git_commit") or DASH)[:12],
            }
        )
    return out


def _download_rows(crit: pd.DataFrame) -> list[dict]:
    rows = []
    for r in crit.to_dict(orient="records"):
        config = json.loads(r.pop("config_id"))
        out = {k: (finite(v) if isinstance(v, float) else v) for k, v in r.items()}
        out["hparams"] = config["algorithm"]["hparams"]
        out["task_params"] = config["task"].get("params", {})
        out["task_version"] = config["task"].get("version")
        rows.append(out)
    return rows


def _downloads(crit: pd.DataFrame, cur: pd.DataFrame, target: float, files: dict[str, bytes]) -> None:
    rows = json_safe(_download_rows(crit))
    doc = {"target": target, "rows": rows}
    files["data/leaderboard.json"] = (json.dumps(doc, indent=1, allow_nan=False) + "\n").encode()
    flat = pd.DataFrame(
        [{**r, "hparams": canonical(r["hparams"]), "task_params": canonical(r["task_params"])} for r in rows]
    )
    files["data/leaderboard.csv"] = flat.to_csv(index=False, lineterminator="\n").encode()
    files["data/curves.csv"] = cur.drop(columns="config_id").to_csv(index=False, lineterminator="\n").encode()


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
    records: list[dict], entries: dict[str, registry.Entry], target: float = TARGET, damaged: int = 0
) -> dict[str, bytes]:
    """Every file of the site (relative path -> bytes) from run records and registry entries."""
    if not records:
        raise BenchError("no intact run records to build a leaderboard from")
    runs = runs_frame(records)
    cur, crit = curves(runs), critical_table(runs, target)
    files: dict[str, bytes] = {}
    tasks = [
        _task_page(t, crit[crit["task"] == t], cur[cur["task"] == t], runs, records, target, files)
        for t in sorted(crit["task"].unique())
    ]
    all_rows = [row for t in tasks for row in t.rows]
    algos = []
    for name in sorted(set(entries) | set(crit["algorithm"])):
        card, hparams = _card(entries.get(name))
        algos.append(
            AlgorithmPage(name, slug(name), card, hparams, [r for r in all_rows if r.algorithm == name])
        )
    _downloads(crit, cur, target, files)
    env = environment()
    n_boot = inspect.signature(critical_mass).parameters["n_boot"].default
    common = {
        "tasks": tasks,
        "algorithms": algos,
        "target": target,
        "software": _software(),
        "n_boot": n_boot,
    }
    pages = {
        "index.html": ("index.html", {}),
        "methodology.html": (
            "methodology.html",
            {"environments": _environments(records), "n_records": len(records), "damaged": damaged},
        ),
    }
    for t in tasks:
        pages[f"tasks/{t.slug}.html"] = ("task.html", {"task": t})
    for a in algos:
        pages[f"algorithms/{a.slug}.html"] = ("algorithm.html", {"algo": a})
    for path, (template, ctx) in pages.items():
        root = "../" * path.count("/")
        html = env.get_template(template).render(root=root, page=path, **common, **ctx)
        files[path] = html.encode()
    for asset in sorted((HERE / "assets").iterdir()):
        if asset.is_file():
            files[f"assets/{asset.name}"] = asset.read_bytes()
    files[SITE_MARKER] = b"built by aca-bench leaderboard build; the folder is replaced on each build\n"
    return dict(sorted(files.items()))


def write_site(files: dict[str, bytes], out: str | Path) -> list[str]:
    """Replace the site in `out` with `files`; a non-empty folder that is not a site is refused."""
    out = Path(out)
    if out.exists():
        if not out.is_dir():
            raise BenchError(f"--out {out} exists and is not a folder")
        if any(out.iterdir()):
            if not (out / SITE_MARKER).exists():
                raise BenchError(
                    f"--out {out} is not empty and holds no leaderboard site; choose an empty or new folder"
                )
            shutil.rmtree(out)
    for rel, data in files.items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return [p for p in files if p != SITE_MARKER]


@dataclass
class BuildResult:
    pages: list[str]
    warnings: list[str]


def build_site(
    results: str | Path, out: str | Path, registry_paths: list[Path] | None = None, target: float = TARGET
) -> BuildResult:
    """Read the store in `results` and the registry, render the site, write it to `out`."""
    records, damaged = load_records(results)
    if not records:
        raise BenchError(f"no intact run records in '{results}'")
    builtin = registry.BUILTIN_DIR.resolve()
    extra = [p for p in registry_paths or [] if builtin not in (q := Path(p).resolve(), *q.parents)]
    entries, problems = registry.validate(extra)
    files = render(records, entries, target, damaged=len(damaged))
    written = write_site(files, out)
    warnings = [*damaged, *(f"registry entry skipped: {p}" for p in problems)]
    return BuildResult(written, warnings)
