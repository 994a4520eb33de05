"""The WaterBirds feature-flip task: synthetic group sizes, the flip, group bookkeeping, the directory
loader and its cache, and Group DRO's worst group beating ERM's on the synthetic data."""

import csv

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from aca_bench.algorithms import registry
from aca_bench.benchmark.budget import task_budget
from aca_bench.benchmark.cli import main
from aca_bench.benchmark.engine import evaluate, make_batch, member_mask, relabelled_groups, train_stack
from aca_bench.benchmark.errors import BenchError
from aca_bench.benchmark.params import resolve
from aca_bench.tasks import waterbirds, waterbirds_data
from aca_bench.tasks.registry import get_task
from aca_bench.tasks.waterbirds import WaterbirdsFeatureFlip, flip_coordinates

pytestmark = [pytest.mark.usefixtures("one_thread"), pytest.mark.trains]


def test_registered():
    assert get_task("waterbirds_feature_flip") is WaterbirdsFeatureFlip


def test_synthetic_has_waterbirds_group_sizes_and_correlation():
    splits = waterbirds_data.synthetic_splits()
    for name, (x, y, place) in splits.items():
        sizes = torch.bincount(2 * y + place, minlength=4).tolist()
        assert tuple(sizes) == waterbirds_data.GROUP_SIZES[name]
        assert x.dtype == torch.float32 and x.shape == (y.numel(), waterbirds_data.SYNTHETIC_DIM)
        assert bool((x >= 0).all())
    _, y, place = splits["train"]
    assert abs(float((y == place).float().mean()) - 0.95) < 0.001
    for name in ("val", "test"):  # the background is (about) balanced within each class
        _, y, place = splits[name]
        for c in (0, 1):
            assert abs(float(place[y == c].float().mean()) - 0.5) < 0.001
    again = waterbirds_data.synthetic_splits()
    assert all(torch.equal(a, b) for s in splits for a, b in zip(splits[s], again[s], strict=True))


def test_feature_flip_is_exact_and_deterministic():
    task = WaterbirdsFeatureFlip(m=8)
    data = task.load()
    coords = task.coordinates()
    assert coords.tolist() == WaterbirdsFeatureFlip(m=8).coordinates().tolist() and len(coords) == 8
    x = data.x_train[:50].reshape(5, 10, -1)  # any leading dims
    out = task.strategy(x)
    rest = torch.ones(x.shape[-1], dtype=torch.bool)
    rest[coords] = False
    assert torch.equal(out[..., coords], -x[..., coords])
    assert torch.equal(out[..., rest], x[..., rest])
    assert torch.equal(task.strategy(out), x) and not torch.equal(out, x)
    assert task.strategy_description()["coordinates"] == coords.tolist()


def test_flip_rules():
    x = torch.tensor([[1.0, 5.0, 2.0, 5.0, 0.0]])
    assert flip_coordinates(x, 2, "first", 0).tolist() == [0, 1]
    assert flip_coordinates(x, 2, "largest_mean", 0).tolist() == [1, 3]
    assert flip_coordinates(x, 3, "random", 7).tolist() == flip_coordinates(x, 3, "random", 7).tolist()
    with pytest.raises(BenchError, match="cannot be flipped"):
        flip_coordinates(x, 6, "first", 0)


def test_relabelled_members_land_in_group_y_star_place():
    task = WaterbirdsFeatureFlip()
    data = task.load()
    member = member_mask(data.y_train.numel(), [0.0, 0.2], [0, 0], torch.device("cpu"))
    groups = relabelled_groups(task, data, member)
    clean = 2 * data.y_train + data.attr_train
    assert torch.equal(groups[0], clean)
    m = member[1]
    assert torch.equal(groups[1][m], 2 * task.y_star + data.attr_train[m])
    assert torch.equal(groups[1][~m], clean[~m])
    # the same bookkeeping inside a training batch
    idx = torch.arange(64).expand(2, 64)
    b = make_batch(task, data, member, idx, torch.ones(2, 64), torch.zeros(2, dtype=torch.int64), True)
    assert torch.equal(b["group"], groups[:, :64])
    assert torch.equal(b["y"][1][m[:64]], torch.full((int(m[:64].sum()),), task.y_star))


def write_tiny_waterbirds(root, n=6):
    """A WaterBirds-format directory: metadata.csv + n small JPEGs in species folders."""
    from PIL import Image

    rng = np.random.RandomState(0)
    rows = []
    for i in range(n):
        folder = root / f"{i % 2:03d}.Bird"
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{folder.name}/img_{i}.jpg"
        Image.fromarray(rng.randint(0, 255, (24, 32, 3), dtype=np.uint8)).save(root / name)
        rows.append(
            {
                "img_id": i + 1,
                "img_filename": name,
                "y": i % 2,
                "split": (0, 0, 1, 2)[i % 4],
                "place": (i // 2) % 2,
                "place_filename": f"/x/place_{i}.jpg",
            }
        )
    with (root / "metadata.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return rows


def test_directory_loader_extracts_once_and_reuses_the_cache(tmp_path, monkeypatch):
    data_dir, cache_dir = tmp_path / "wb" / "waterbird_complete95_forest2water2", tmp_path / "cache"
    rows = write_tiny_waterbirds(data_dir)
    feats = waterbirds_data.load_waterbirds_dir(tmp_path / "wb", cache_dir, weights="random", device="cpu")
    n_train = sum(r["split"] == 0 for r in rows)
    n_test = sum(r["split"] == 2 for r in rows)
    assert feats.x_train.shape == (n_train, 2048) and feats.x_test.shape == (n_test, 2048)
    assert feats.y_train.tolist() == [r["y"] for r in rows if r["split"] == 0]
    assert feats.place_test.tolist() == [r["place"] for r in rows if r["split"] == 2]
    assert len(list(cache_dir.glob("*.pt"))) == 1

    def no_extraction(*args, **kwargs):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(waterbirds_data, "extract", no_extraction)
    again = waterbirds_data.load_waterbirds_dir(data_dir, cache_dir, weights="random", device="cpu")
    assert torch.equal(again.x_train, feats.x_train) and torch.equal(again.x_test, feats.x_test)
    # the task reads the same cache (data_dir and cache_dir are locations, not identity)
    waterbirds._load.cache_clear()
    task = WaterbirdsFeatureFlip(
        source="waterbirds",
        data_dir=str(data_dir),
        cache_dir=str(cache_dir),
        backbone_weights="random",
        m=16,
        flip_rule="largest_mean",
    )
    data = task.load()
    assert torch.equal(data.x_train, feats.x_train) and data.attr_test is not None
    waterbirds._load.cache_clear()
    # changing an image's bytes changes the dataset's key
    before = waterbirds_data.dataset_digest(data_dir, waterbirds_data.read_metadata(data_dir))
    with (data_dir / rows[0]["img_filename"]).open("ab") as f:
        f.write(b"\0")
    assert waterbirds_data.dataset_digest(data_dir, waterbirds_data.read_metadata(data_dir)) != before


def test_missing_directory_and_weights_are_one_line_errors(tmp_path, monkeypatch):
    waterbirds._load.cache_clear()
    task = WaterbirdsFeatureFlip(source="waterbirds", data_dir=str(tmp_path / "nope"))
    with pytest.raises(BenchError, match="data fetch waterbirds") as err:
        task.load()
    assert "\n" not in err.value.message
    write_tiny_waterbirds(tmp_path / "wb", n=4)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "empty-torch-hub"))
    with pytest.raises(BenchError, match="data fetch resnet50"):
        waterbirds_data.load_waterbirds_dir(tmp_path / "wb", tmp_path / "cache", weights="imagenet")
    waterbirds._load.cache_clear()


def test_fetch_commands_exist():
    out = CliRunner().invoke(main, ["data", "fetch", "--help"]).output
    assert "waterbirds" in out and "resnet50" in out


def _train(algo_name, alphas, seeds, **hp):
    task = WaterbirdsFeatureFlip()
    data = task.load()
    entry = registry.get(algo_name)
    given = task_budget(WaterbirdsFeatureFlip, algo_name) | hp
    hparams = resolve(entry.cls.hparams, given, algo_name)
    stack = train_stack(
        task, data, entry.create(), [hparams] * len(alphas), alphas, seeds, torch.device("cpu")
    )
    return evaluate(task, data, stack)


def test_groupdro_worst_group_beats_erm_on_synthetic():
    erm = _train("erm", [0.0, 0.0], [0, 1])
    dro = _train("groupdro", [0.0, 0.0], [0, 1])
    worst_erm = max(m["worst_group_accuracy"] for m in erm)
    worst_dro = min(m["worst_group_accuracy"] for m in dro)
    assert worst_dro > worst_erm + 0.1, (worst_erm, worst_dro)


@pytest.mark.slow
def test_balanced_groupdro_trains_and_beats_erm_worst_group():
    dro = _train("groupdro", [0.0, 0.01], [0, 0], balanced=True)
    erm = _train("erm", [0.0], [0])
    assert dro[0]["worst_group_accuracy"] > erm[0]["worst_group_accuracy"]


def test_data_fetch_runs_the_download_a_task_declares(monkeypatch, tmp_path):
    from dataclasses import replace

    from aca_bench.benchmark.commands import data

    fetched = []
    for name in ("mnist", "resnet50"):
        fake = (
            (lambda root, name=name: fetched.append((name, root)) or tmp_path / name)
            if name == "mnist"
            else (lambda name=name: fetched.append((name, None)) or tmp_path / name)
        )
        monkeypatch.setitem(data._DOWNLOADS, name, replace(data._DOWNLOADS[name], fetch=fake))
    out = CliRunner().invoke(main, ["data", "fetch", "mnist", "--dir", str(tmp_path / "m")]).output
    assert f"use --set source=mnist --set data_dir={tmp_path / 'mnist'}" in out
    assert CliRunner().invoke(main, ["data", "fetch", "resnet50"]).exit_code == 0
    assert fetched == [("mnist", str(tmp_path / "m")), ("resnet50", None)]
    refused = CliRunner().invoke(main, ["data", "fetch", "resnet50", "--dir", str(tmp_path)])
    assert refused.exit_code == 2 and "takes no --dir" in refused.output and len(fetched) == 2
