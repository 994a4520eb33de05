"""The architecture page's module map names every module of the package, and nothing that is not one."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("aca_bench", "benchmark", "tasks", "algorithms", "leaderboard")


def _map_modules() -> set[str]:
    """Module paths in the map: every `name.py` of a line, under the folders its indentation names."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    block = text.split("## Module map", 1)[1].split("```", 2)[1]
    found: set[str] = set()
    folders: list[tuple[int, str]] = []
    for line in block.splitlines():
        head = re.match(r"( *)(\S+)", line)
        if not head:
            continue
        depth = len(head.group(1))
        folders = [(d, f) for d, f in folders if d < depth]
        if head.group(2).endswith("/"):
            folders.append((depth, head.group(2)))
            continue
        for name in re.findall(r"(?<![\w./])[a-z_]+\.py\b", line):
            found.add("".join(f for _, f in folders) + name)
    return found


def test_the_module_map_matches_the_tree():
    on_disk = {
        str(p.relative_to(ROOT))
        for pkg in PACKAGES
        for p in (ROOT / pkg).rglob("*.py")
        if p.name != "__init__.py" and "reference" not in p.parts
    }
    assert _map_modules() == on_disk
