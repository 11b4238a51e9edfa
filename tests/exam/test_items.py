"""The item validator: a well-formed item passes; each kind of broken item is caught."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from pmle.exam.items import check_bank

STEM = (
    "A retail company trains a demand forecasting model every night with a custom training job "
    "on Vertex AI. The data science team reports that the job's training data is read from a "
    "BigQuery table that analysts sometimes change without notice, and last week a silently "
    "dropped column degraded the model. The company wants to catch such schema changes before "
    "training starts, with minimal operational overhead and without writing a separate "
    "service. What should you do?"
)


def _option(letter: str, text: str) -> dict[str, str]:
    return {
        "id": letter,
        "text": text,
        "feedback": "This option is explained here in enough words to count as real feedback.",
    }


def item(**changes: Any) -> dict[str, Any]:
    base = {
        "id": "v2-5.1-0001",
        "blueprint": "pmle-v2",
        "objectives": ["5.1"],
        "type": "single",
        "stem": STEM,
        "options": [
            _option(
                "A",
                "Add a data validation step to the training pipeline that compares the "
                "table's schema and statistics with the previous run and stops on anomalies.",
            ),
            _option(
                "B",
                "Ask the analysts to email the data science team before they change the "
                "table, and review every message before each nightly training run.",
            ),
            _option(
                "C",
                "Write a Cloud Run service that polls the table's schema every minute and "
                "pages the on-call engineer when any column is added or removed.",
            ),
            _option(
                "D",
                "Retrain the model twice a night so that a bad run is replaced quickly by "
                "a better one trained on the same table a few hours later.",
            ),
        ],
        "key": ["A"],
        "explanation": "Validating data inside the pipeline stops bad runs with no extra service.",
        "references": ["https://cloud.google.com/vertex-ai/docs/pipelines/introduction"],
        "difficulty": "medium",
        "products": ["Vertex AI Pipelines"],
        "status": "reviewed",
        "author": "writer-1",
        "reviewer": "reviewer-2",
        "reviewed_on": "2026-11-27",
    }
    base.update(changes)
    return base


def problems(*items: dict[str, Any]) -> list[str]:
    return [p.message for p in check_bank(items)[1]]


def test_a_good_item_passes() -> None:
    assert problems(item()) == []


def _broken_option(letter: str, **fields: str) -> dict[str, Any]:
    changed = item()
    for option in changed["options"]:
        if option["id"] == letter:
            option.update(fields)
    return changed


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        (item(key=["E"]), "the key 'E' is not an option"),
        (item(key=["A", "B"]), "a single-answer item has one key, not 2"),
        (item(type="multiple", key=["A", "B"]), "says how many to choose"),
        (item(type="multiple", choose=2, key=["A", "B"]), "must end by asking to choose 2"),
        (_broken_option("C", feedback=""), "option C has no real feedback"),
        (item(references=[]), "missing references"),
        (item(references=["cloud.google.com/vertex-ai"]), "not a public https page"),
        (item(stem="Which product should you use? " * 3), "a scenario needs 50"),
        (item(stem=STEM.replace("What should you do?", "Which is NOT a good idea?")), "negative"),
        (
            _broken_option("D", text="None of the above options would work in this case at all."),
            "'all / none of the above'",
        ),
        (_broken_option("B", text="Use BigQuery."), "option B is 2 words"),
        (item(objectives=["7.1"]), "objective '7.1' is not in pmle-v2"),
        (item(reviewer="writer-1"), "someone other than its author"),
        (item(options=item()["options"][:3]), "3 options: an item has 4 to 6"),
    ],
)
def test_broken_items(broken: dict[str, Any], message: str) -> None:
    assert any(message in p for p in problems(broken)), problems(broken)


def test_a_multiple_select_item() -> None:
    stem = STEM.replace("What should you do?", "What should you do? Choose two.")
    good = item(type="multiple", choose=2, key=["A", "C"], stem=stem)
    assert problems(good) == []


def test_bank_level_duplicates() -> None:
    twin = copy.deepcopy(item())
    other = item(id="v2-5.1-0002")
    found = problems(item(), twin, other)
    assert "id used 2 times" in found
    assert any("same stem as v2-5.1-0001" in p for p in found)
