"""Page models: what each task page and algorithm page shows, assembled from the aggregation tables,
the registry cards and the suites (no HTML here; the templates render these)."""

import json
import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from aca_bench.benchmark.aggregate import config_hparams
from aca_bench.benchmark.critical import NOT_REACHED, REACHED
from aca_bench.benchmark.ids import canonical
from aca_bench.benchmark.values import finite, value_text
from aca_bench.leaderboard.plots import Reference, TradeoffPoint, curve_panels, curves_svg, tradeoff_svg
from aca_bench.leaderboard.rows import Row
from aca_bench.leaderboard.sources import Card, SuiteGrid
from aca_bench.leaderboard.text import DASH, markdown, num, safe_url, slug, sort_value


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
    headline: list[Row] = field(default_factory=list)  # at the standard setting (`headline`), ranked apart
    description: Any = ""
    synthetic: list[str] = field(default_factory=list)
    plots: list[Plot] = field(default_factory=list)
    curves: list[dict] = field(default_factory=list)
    groups: dict = field(default_factory=dict)
    privacy: list[dict] = field(default_factory=list)
    privacy_axes: list[tuple[str, str]] = field(default_factory=list)
    strategies: list[list[tuple[str, str]]] = field(default_factory=list)
    versions: list[str] = field(default_factory=list)
    params: list[list[tuple[str, str]]] = field(default_factory=list)

    @property
    def show_n(self) -> bool:
        """Whether the configurations trained on different numbers of examples (then a column says)."""
        return len({r.n_train for r in self.rows}) > 1


@dataclass
class AlgorithmPage:
    name: str
    slug: str
    card: dict | None
    hparams: list[dict]
    suites: list[dict]
    rows: list[Row]
    command: str  # how a reader runs it through the standard suite


def pairs(d: dict) -> list[tuple[str, str]]:
    """(key, value) pairs sorted by key for a definition list: lists as 'a, b', mappings as JSON."""
    return [(str(k), _shown(v)) for k, v in sorted(d.items())]


def _shown(v: Any) -> str:
    if isinstance(v, list | tuple):
        return ", ".join(_shown(x) for x in v)
    return canonical(v) if isinstance(v, dict) else value_text(v)


def tradeoff_plots(task: str, crit: pd.DataFrame, cards: dict[str, Card]) -> list[tuple[str, str, bytes]]:
    """(file stem, title, svg) of alpha* against each axis a card declares, for each algorithm of the
    task whose configurations set at least two finite values of it. Series are named by the other
    hyperparameters that differ between them; x = inf and other algorithms are reference lines."""
    out = []
    for algo in sorted(crit["algorithm"].unique()):
        card = cards.get(algo)
        mine = crit[crit["algorithm"] == algo]
        for axis, label in (card.tradeoff_axes if card else {}).items():
            every = {r.config_id: config_hparams(r.config_id) for r in mine.itertuples()}
            hps = {cid: hp for cid, hp in every.items() if axis in hp}
            xs = {finite(hp[axis]) for hp in hps.values()} - {None}
            if len({x for x in xs if math.isfinite(x)}) < 2:
                continue
            others = sorted(
                {
                    k
                    for h in hps.values()
                    for k in h
                    if k != axis and len({canonical(h.get(k)) for h in hps.values()}) > 1
                }
            )
            points, refs = [], []
            for r in mine.itertuples():
                if r.config_id not in hps:
                    continue
                hp = hps[r.config_id]
                series = ", ".join(f"{k}={value_text(hp.get(k))}" for k in others) or algo
                x = finite(hp[axis])
                if x is None:
                    continue
                if not math.isfinite(x):
                    refs += _reference(r, f"{series}, {axis}={value_text(hp[axis])}")
                    continue
                cm = r.critical
                points.append(
                    TradeoffPoint(
                        series,
                        x,
                        cm.value,
                        cm.status,
                        cm.low if cm.has_interval else None,
                        cm.high if cm.has_interval else None,
                        float(r.alpha_max),
                    )
                )
            for r in crit[crit["algorithm"] != algo].itertuples():
                refs += _reference(r, r.config)
            title = f"\u03b1* against {label}: {algo} on {task}"
            out.append(
                (f"{slug(algo)}-alpha-vs-{slug(axis)}", title, tradeoff_svg(title, label, points, refs))
            )
    return out


def _reference(r: Any, label: str) -> list[Reference]:
    """A horizontal reference line for a configuration with a known alpha* or bound (else none)."""
    cm = r.critical
    if cm is None or not cm.ranked:
        return []
    if cm.status == NOT_REACHED or not cm.value:  # no value to draw a line at: the table says it
        return []
    return [Reference(f"{label}: \u03b1* {cm.point()}", float(cm.value), cm.status != REACHED)]


def task_page(
    task: str,
    rows: list[Row],
    headline: list[Row],
    crit: pd.DataFrame,
    cur: pd.DataFrame,
    runs: pd.DataFrame,
    groups: pd.DataFrame,
    privacy: pd.DataFrame,
    records: list[dict],
    cards: dict[str, Card],
    description: str,
    target: float,
    files: dict[str, bytes],
) -> TaskPage:
    """The page model of one task; its plots are added to `files`."""
    s = slug(task)
    recs = [records[i] for i in runs.index]
    page = TaskPage(
        task,
        s,
        rows,
        has_groups=bool(crit["worst_group_accuracy_at_0"].notna().any()),
        has_epsilon=bool(crit["epsilon"].notna().any()),
        headline=headline,
        description=markdown(description) if description else "",
    )
    panels = curve_panels(list(cur["config"].unique()))
    for i, (panel, configs) in enumerate(panels):
        path = f"plots/{s}-curves.svg" if len(panels) == 1 else f"plots/{s}-curves-{i + 1}.svg"
        files[path] = curves_svg(task, cur[cur["config"].isin(configs)], crit, target, panel)
        title = "S(\u03b1) per configuration" + (f": {panel}" if panel else "")
        page.plots.append(
            Plot(title, path, f"Success S against alpha, {task}" + (f", {panel}" if panel else ""))
        )
    # trade-offs at the standard setting only: the sweeps of n, epochs and C have their own pages, and
    # drawn together they were 15-18 series and 17 reference lines no reader could tell apart
    standard = crit[crit["config"].isin({r.config for r in headline})]
    for stem, title, svg in tradeoff_plots(task, standard, cards):
        files[f"plots/{s}-{stem}.svg"] = svg
        page.plots.append(Plot(title, f"plots/{s}-{stem}.svg", title))
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
    if len(groups):
        names = sorted(groups["group"].unique())
        page.groups = {
            "groups": names,
            "rows": [
                {
                    "config": config,
                    "values": [num(df.set_index("group")["accuracy"].get(g), ".3f") for g in names],
                }
                for config, df in groups.groupby("config", sort=True)
            ],
        }
    page.privacy_axes, page.privacy = _privacy(crit, privacy, cards)
    page.strategies = [pairs(json.loads(t)) for t in sorted({canonical(r.get("strategy", {})) for r in recs})]
    page.versions = sorted({str(r["task"].get("version", "")) for r in recs})
    params = sorted({canonical(r["task"].get("params", {})) for r in recs})
    page.params = [pairs(json.loads(t)) for t in params]
    page.synthetic = sorted(
        {
            f"{k} = {v}"
            for t in params
            for k, v in json.loads(t).items()
            if isinstance(v, str) and "synthetic" in v
        }
    )
    return page


def _privacy(crit: pd.DataFrame, privacy: pd.DataFrame, cards: dict[str, Card]) -> tuple[list, list[dict]]:
    """Columns (the declared trade-off axes of the algorithms present) and rows of the privacy table."""
    if not len(privacy):
        return [], []
    algos = dict(zip(crit["config_id"], crit["algorithm"], strict=True))
    axes: dict[str, str] = {}
    for algo in sorted(set(algos[c] for c in privacy["config_id"] if c in algos)):
        if algo in cards:
            axes.update(cards[algo].tradeoff_axes)
    rows = []
    for r in privacy.itertuples():
        hp = config_hparams(r.config_id)
        rows.append(
            {
                "config": r.config,
                "axes": [(value_text(hp[a]), sort_value(hp[a])) if a in hp else (DASH, "") for a in axes],
                "epsilon": num(r.epsilon, ".3g"),
                "epsilon_sort": sort_value(r.epsilon),  # inf: after every number, not last both ways
                "delta_sort": sort_value(r.delta),
                "delta": num(r.delta, ".2g"),
                "noise": num(r.noise_multiplier, ".3g"),
                "accountant": r.accountant or DASH,
            }
        )
    return list(axes.items()), rows


def algorithm_page(
    name: str, card: Card | None, rows: list[Row], common: dict[str, Any], grids: list[SuiteGrid]
) -> AlgorithmPage:
    """The page model of one algorithm: its card as data, the settings its runs share, the suites' grids."""
    shown = None
    if card is not None:
        c = card.fields
        shown = {
            "description": markdown(c.get("description", "")),
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
            "grid": pairs(c.get("grid") or {}),
            "axes": sorted(card.tradeoff_axes.items()),
            "source": card.source.rsplit("/", 1)[-1],
        }
    suites = [
        {
            "suite": g.suite,
            "experiment": g.experiment,
            "task": g.task,
            "alphas": ", ".join(value_text(a) for a in g.alphas) or DASH,
            "seeds": value_text(g.seeds),
            "hparams": [(k, _shown(v)) for k, v in g.hparams],
        }
        for g in grids
    ]
    values: dict[str, set[str]] = {}
    for r in rows:
        for k, v in r.hparams.items():
            values.setdefault(k, set()).add(canonical(v))
    hparams = [
        {
            "name": k,
            "values": ", ".join(value_text(json.loads(v)) for v in sorted(vs, key=_order)),
            "baseline": value_text(common[k]) if k in common else DASH,
        }
        for k, vs in sorted(values.items())
    ]
    command = card.command if card is not None else Card(name, "", {}).command
    return AlgorithmPage(name, slug(name), shown, hparams, suites, rows, command)


def _order(text: str) -> tuple:
    """Sort canonical JSON values numbers first (by value), then the rest by text."""
    v = finite(json.loads(text)) if text not in ("true", "false") else None
    return (0, v, "") if v is not None else (1, 0.0, text)
