"""Product names across the 2026 renames: longest names first, articles fixed, both ways, and
whole items rendered."""

from __future__ import annotations

from pmle.exam.aliases import ALIASES, naming_of, rename, render
from pmle.exam.bank import load_bank


def test_rename_to_the_2026_names_and_back() -> None:
    text = (
        "Run it on Vertex AI Pipelines, track it in Vertex AI Experiments, deploy it to a "
        "Vertex AI endpoint, watch it with Vertex AI Model Monitoring and Vertex AI TensorBoard."
    )
    renamed = rename(text, "agent-platform")
    assert renamed == (
        "Run it on Agent Platform Pipelines, track it in Experiments on Agent Platform, deploy "
        "it to an Agent Platform endpoint, watch it with Model Monitoring on Agent Platform and "
        "Vertex AI TensorBoard."
    )
    assert rename(renamed, "vertex", source="agent-platform") == text
    assert rename(text, "vertex") == text
    # whole words only
    assert rename("MyVertex AI Pipelinesque", "agent-platform") == "MyVertex AI Pipelinesque"


def test_every_vertex_name_maps_once() -> None:
    olds = [old for old, _ in ALIASES]
    assert len(olds) == len(set(olds))
    assert naming_of("pmle-v2") == "vertex" and naming_of("pmle-2026-06") == "agent-platform"


def test_shipped_items_render_with_the_new_names() -> None:
    items, _ = load_bank()
    with_vertex = [i for i in items if "Vertex AI" in i.stem and "TensorBoard" not in i.stem]
    assert with_vertex
    for item in with_vertex[:20]:
        shown = render(item, "agent-platform")
        assert "Vertex AI" not in shown.stem.replace("Vertex AI TensorBoard", "")
        assert shown.key == item.key and [o.id for o in shown.options] == [
            o.id for o in item.options
        ]
        assert render(item, "vertex") is item
