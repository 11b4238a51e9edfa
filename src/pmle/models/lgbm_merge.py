"""Merge several LightGBM boosters trained on the same features into one.

The raw score of a booster is the sum of its trees' leaf values, so a weighted sum of boosters
is one booster holding every tree with its leaf (and internal node) values scaled by the
booster's weight. Predicting with one merged booster costs one call instead of one per fold
and candidate — what makes an ensemble of bagged models cheap to serve.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pmle.errors import InvalidInput

if TYPE_CHECKING:
    import lightgbm as lgb

_SCALED = ("leaf_value=", "internal_value=")
# Header lines that must agree for trees to be combined.
_MUST_MATCH = ("num_class=", "num_tree_per_iteration=", "max_feature_idx=", "objective=")


def _split(text: str) -> tuple[str, list[str], str]:
    """(header, tree blocks, trailer) of a model text."""
    start = text.index("\nTree=")
    end = text.index("end of trees")
    header = text[: start + 1]
    trees = [b.strip("\n") for b in ("\n" + text[start + 1 : end]).split("\nTree=") if b.strip()]
    return header, trees, text[end:]


def _scale_tree(block: str, index: int, weight: float) -> str:
    lines = block.split("\n")
    lines[0] = f"Tree={index}"
    for i, line in enumerate(lines):
        for key in _SCALED:
            if line.startswith(key):
                values = line[len(key) :].split()
                lines[i] = key + " ".join(repr(float(v) * weight) for v in values)
    return "\n".join(lines)


def merge_boosters(boosters: Sequence[lgb.Booster], weights: Sequence[float]) -> lgb.Booster:
    """One booster whose raw score is `sum(w * b.raw_score)` over the boosters."""
    import lightgbm as lgb

    if not boosters or len(boosters) != len(weights):
        raise InvalidInput("merge_boosters needs one weight per booster")
    texts = [b.model_to_string() for b in boosters]
    header, _, trailer = _split(texts[0])
    wanted = {k: _line(header, k) for k in _MUST_MATCH}
    blocks: list[str] = []
    for text, weight in zip(texts, weights, strict=True):
        head, trees, _ = _split(text)
        for key, value in wanted.items():
            if _line(head, key) != value:
                raise InvalidInput(f"cannot merge boosters that differ in {key.rstrip('=')}")
        for tree in trees:
            body = tree if tree.startswith("Tree=") else "Tree=" + tree
            blocks.append(_scale_tree(body, len(blocks), weight))
    # tree_sizes would describe the old blocks; LightGBM parses without it.
    header = "\n".join(line for line in header.split("\n") if not line.startswith("tree_sizes="))
    merged = header.rstrip("\n") + "\n\n" + "\n\n".join(blocks) + "\n\n\n" + trailer
    return lgb.Booster(model_str=merged)


def _line(header: str, key: str) -> str | None:
    for line in header.split("\n"):
        if line.startswith(key):
            return line
    return None
