"""The one YAML reader bounds alias expansion: a "billion laughs" suite, registry card or --set value of
a few hundred bytes ends in one line (it exhausted memory before), wherever the product reads YAML."""

import json
import time

import pytest
import yaml

from aca_bench.benchmark.errors import BenchError
from aca_bench.benchmark.yaml_input import MalformedYaml, load_yaml, read_yaml

REFUSED = "refused YAML: its aliases expand to more than 100,000 values"


def laughs(key: str = "l", indent: str = "") -> str:
    """Nine levels of nine aliases each: 9**9 (387 million) strings once expanded, under 700 bytes."""
    lines = [f"{indent}{key}0: &{key}0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"{indent}{key}{i}: &{key}{i} [" + ", ".join([f"*{key}{i - 1}"] * 9) + "]" for i in range(1, 9)]
    return "\n".join(lines) + "\n"


def _one_line_error(result, *fragments):
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output and "MemoryError" not in result.output, result.output
    errors = [ln for ln in result.output.splitlines() if ln.startswith("Error:")]
    assert len(errors) == 1, result.output
    for frag in fragments:
        assert frag in errors[0], result.output


def test_a_billion_laughs_document_is_refused_at_once():
    doc = laughs()
    assert len(doc) < 700
    start = time.perf_counter()
    with pytest.raises(BenchError, match=REFUSED):
        load_yaml(doc, "suite.yaml")
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize(
    ("doc", "words"),
    [
        ("a: &a [1, *a]\n", "an alias refers to a node that contains it"),
        ("[" * 150 + "]" * 150, "nested deeper than 100 levels"),
        ("[" * 20000, "refused YAML"),  # the parser itself would recurse past Python's limit
    ],
)
def test_recursive_and_deep_documents_are_refused_in_one_line(doc, words):
    with pytest.raises(BenchError, match=words) as info:
        load_yaml(doc, "x.yaml")
    assert "\n" not in info.value.message and info.value.message.startswith("x.yaml: ")


def test_anchors_within_the_bounds_still_load():
    doc = (
        "shared: &hp {lr: 0.1, epochs: 2}\nexperiments:\n  - hparams: *hp\n  - hparams: {<<: *hp, lr: 0.2}\n"
    )
    assert load_yaml(doc, "s.yaml")["experiments"] == [
        {"hparams": {"lr": 0.1, "epochs": 2}},
        {"hparams": {"lr": 0.2, "epochs": 2}},
    ]


def test_malformed_yaml_names_the_file_and_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("a: 1\nb: [\n")
    with pytest.raises(MalformedYaml, match=r"bad.yaml: line 3 malformed YAML"):
        read_yaml(path)
    path.write_bytes(b"a: \xff\n")
    with pytest.raises(BenchError, match="not UTF-8 text"):
        read_yaml(path)


def test_a_file_over_the_size_bound_is_refused(tmp_path, monkeypatch):
    import aca_bench.benchmark.yaml_input as yaml_input

    monkeypatch.setattr(yaml_input, "MAX_BYTES", 100)
    path = tmp_path / "big.yaml"
    path.write_text("a: " + "x" * 200 + "\n")
    with pytest.raises(BenchError, match="the file is over 100 bytes"):
        read_yaml(path)


def test_the_product_reads_yaml_only_through_the_bounded_reader():
    """A new `yaml.safe_load` or `yaml.load` elsewhere would bypass the bounds."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    users = [
        p.relative_to(root).as_posix()
        for folder in ("benchmark", "algorithms", "leaderboard", "tasks")
        for p in (root / folder).rglob("*.py")
        if "yaml.safe_load" in p.read_text() or "yaml.load(" in p.read_text()
    ]
    assert users == ["benchmark/yaml_input.py"]


def test_run_refuses_a_billion_laughs_suite_in_one_line(cli, tmp_path):
    suite = tmp_path / "laughs.yaml"
    suite.write_text("name: laughs\n" + laughs() + "experiments: []\n")
    assert yaml.safe_load(suite.read_text())["name"] == "laughs"  # valid YAML: only its size is wrong
    _one_line_error(cli("run", suite, "--out", tmp_path / "out"), str(suite), REFUSED)


def test_set_refuses_a_billion_laughs_value_in_one_line(cli, tmp_path):
    value = "{" + laughs().strip().replace("\n", ", ") + "}"
    result = cli(
        "sweep", "--task", "mnist_patch", "--algorithm", "erm", "--set", f"lr={value}", "--out", tmp_path
    )
    _one_line_error(result, "--set lr: " + REFUSED)


def _card(tmp_path):
    card = tmp_path / "reg" / "laughs.yaml"
    card.parent.mkdir()
    card.write_text("name: laughs\nimplementation: x:Y\n" + laughs())
    return card


def test_validate_refuses_a_billion_laughs_card_in_one_line(cli, tmp_path):
    card = _card(tmp_path)
    _one_line_error(cli("validate", "--schema-only", card), str(card), REFUSED)


def test_leaderboard_build_skips_a_billion_laughs_card_in_one_line(cli, tmp_path, tiny_record):
    card = _card(tmp_path)
    store = tmp_path / "store"
    store.mkdir()
    (store / "records.jsonl").write_text(json.dumps(tiny_record) + "\n")
    result = cli("leaderboard", "build", "--results", store, "--out", tmp_path / "site", "--registry", card)
    assert result.exit_code == 0 and "MemoryError" not in result.output, result.output
    assert f"registry card skipped: {card}: {REFUSED}" in result.output
