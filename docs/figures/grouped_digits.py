"""Draw docs/figures/grouped_digits.png: training examples of each grouped_digits group, and the
collective's members (patch, relabelled y*) beside the group they land in.

Run from the repository root:  python docs/figures/grouped_digits.py
"""

from pathlib import Path

import torch
from matplotlib.figure import Figure

from aca_bench.benchmark.engine import member_mask, relabelled_groups
from aca_bench.tasks.grouped_digits import GroupedDigits

PER_ROW = 8
OUT = Path(__file__).with_suffix(".png")


def spread(idx: torch.Tensor) -> torch.Tensor:
    """PER_ROW indices evenly spaced through `idx` (the digits are stored in class order)."""
    return idx[torch.linspace(0, idx.numel() - 1, min(PER_ROW, idx.numel())).long()]


def main() -> None:
    task = GroupedDigits()
    data = task.load()
    groups = task.group_ids(data.y_train, data.attr_train)
    names = task.group_names()
    member = member_mask(data.y_train.numel(), [0.05], [0], torch.device("cpu"))
    seen = relabelled_groups(task, data, member)[0]
    relabelled = member[0] & (data.y_train != task.y_star)
    rows = []
    for g, name in enumerate(names):
        idx = spread(torch.nonzero(groups == g).flatten())
        rows.append((f"{name}\n(train n={int((groups == g).sum())})", data.x_train[idx]))
    idx = spread(torch.nonzero(relabelled & (seen == 2 * task.y_star + 1 - task.y_star)).flatten())
    target = names[2 * task.y_star + 1 - task.y_star]
    rows.append((f"collective -> y*={task.y_star}\n(lands in {target})", task.strategy(data.x_train[idx])))
    fig = Figure(figsize=(PER_ROW * 0.9 + 1.8, len(rows) * 1.0))
    for r, (label, images) in enumerate(rows):
        for c in range(PER_ROW):
            ax = fig.add_subplot(len(rows), PER_ROW, r * PER_ROW + c + 1)
            ax.set_xticks([])
            ax.set_yticks([])
            if c < images.shape[0]:
                ax.imshow(images[c, 0].numpy(), cmap="gray", vmin=0, vmax=255)
            if c == 0:
                ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    fig.subplots_adjust(left=0.2, right=0.99, top=0.99, bottom=0.01, wspace=0.05, hspace=0.1)
    fig.savefig(OUT, dpi=80)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
