"""Product names across renames, so items survive them.

On 2026-04-22 Vertex AI became part of Gemini Enterprise Agent Platform and many products were
renamed (Google's release notes of that day list the changes; see SOURCE). Items are written
with the names of the blueprint they were written for (`pmle-v2` uses the Vertex AI names);
`render` shows an item's text with the names of another naming (the `pmle-2026-06`
blueprint uses the new ones). Longer names are replaced before shorter ones, so
"Vertex AI Pipelines" becomes "Agent Platform Pipelines", not "Agent Platform Pipelines" by way
of a generic "Vertex AI" replacement that would miss the product's own new name.
"""

from __future__ import annotations

import re
from dataclasses import replace
from functools import cache

from pmle.exam.items import Item, Option

__all__ = ["ALIASES", "NAMINGS", "SOURCE", "naming_of", "rename", "render"]

SOURCE = "https://docs.cloud.google.com/gemini-enterprise-agent-platform/vertex-ai-name-changes"

#: (Vertex AI name, Agent Platform name) — the rows relevant to the ML engineer's exam.
ALIASES: tuple[tuple[str, str], ...] = (
    ("Vertex AI Workbench instances", "Agent Platform Workbench Instances"),
    ("Vertex AI Workbench", "Agent Platform Workbench"),
    ("Vertex AI Colab Enterprise", "Agent Platform Colab Enterprise"),
    ("Vertex AI Notebooks", "Agent Platform Notebooks"),
    ("Vertex AI Pipelines", "Agent Platform Pipelines"),
    ("Vertex AI Feature Store", "Agent Platform Feature Store"),
    ("Vertex AI Model Registry", "Agent Platform Model Registry"),
    ("Vertex AI Model Evaluation", "Agent Platform Model Evaluation"),
    ("Vertex AI Model Monitoring", "Model Monitoring on Agent Platform"),
    ("Vertex AI Experiments", "Experiments on Agent Platform"),
    ("Vertex AI Vizier", "Agent Platform Vizier"),
    ("Vertex ML Metadata", "Agent Platform ML Metadata"),
    ("Vertex AI batch prediction", "Agent Platform Batch Inference"),
    ("Vertex AI Batch Prediction", "Agent Platform Batch Inference"),
    ("Vertex AI online prediction", "Agent Platform Online Inference"),
    ("Vertex AI Online Prediction", "Agent Platform Online Inference"),
    ("Vertex AI Prediction", "Agent Platform Inference"),
    ("Vertex AI endpoints", "Agent Platform Endpoints"),
    ("Vertex AI Endpoints", "Agent Platform Endpoints"),
    ("Vertex AI AutoML", "Agent Platform AutoML"),
    ("Vertex AI Forecasting", "Forecasting on Agent Platform"),
    ("Vertex AI custom training", "Agent Platform Managed Training"),
    ("Vertex AI Training", "Agent Platform Managed Training"),
    ("Vertex AI Neural Architecture Search", "Neural Architecture Search on Agent Platform"),
    ("Ray on Vertex AI", "Ray on Agent Platform"),
    ("Vertex AI Vision", "Agent Platform Vision"),
    ("Vertex AI Search", "Agent Search"),
    ("Vertex AI Vector Search", "Vector Search on Gemini Enterprise Agent Platform"),
    ("Vertex AI Studio", "Agent Studio"),
    ("Vertex AI Model Garden", "Model Garden"),
    ("Vertex AI Agent Engine", "Agent Runtime"),
    ("Vertex AI TensorBoard", "Vertex AI TensorBoard"),  # not renamed; kept from the rule below
    ("Vertex AI", "Agent Platform"),
)

#: naming → which side of ALIASES it uses
NAMINGS = {"vertex": 0, "agent-platform": 1}
_BLUEPRINT_NAMING = {"pmle-v2": "vertex", "pmle-v3.1": "vertex", "pmle-2026-06": "agent-platform"}


def naming_of(blueprint_id: str) -> str:
    """The product naming a blueprint's exam uses."""
    return _BLUEPRINT_NAMING.get(blueprint_id, "vertex")


@cache
def _pattern(source: int) -> tuple[re.Pattern[str], dict[str, str]]:
    table: dict[str, str] = {}
    for pair in ALIASES:
        for target in NAMINGS.values():
            if target != source:
                table.setdefault(pair[source], pair[target])
    names = sorted(table, key=len, reverse=True)
    return re.compile(r"\b(" + "|".join(re.escape(n) for n in names) + r")\b"), table


def rename(text: str, to: str, *, source: str = "vertex") -> str:
    """`text` with the product names of naming `source` replaced by those of naming `to`."""
    if to == source:
        return text
    pattern, table = _pattern(NAMINGS[source])
    out = pattern.sub(lambda m: table[m.group(1)], text)
    return _ARTICLE.sub(_article, out)


# "a Vertex AI endpoint" becomes "an Agent Platform endpoint", and back
_ARTICLE = re.compile(r"\b([Aa])n? (?=(Agent|Experiments|Vertex|Model|Vector|Ray|Forecasting)\b)")


def _article(match: re.Match[str]) -> str:
    return match.group(1) + ("n " if match.group(2)[0] in "AEIOU" else " ")


def render(item: Item, to: str) -> Item:
    """The item with every text (stem, options, feedback, explanation, products) in naming
    `to`; the item's own naming comes from its blueprint."""
    source = naming_of(item.blueprint)
    if to == source:
        return item
    return replace(
        item,
        stem=rename(item.stem, to, source=source),
        options=tuple(
            Option(o.id, rename(o.text, to, source=source), rename(o.feedback, to, source=source))
            for o in item.options
        ),
        explanation=rename(item.explanation, to, source=source),
        products=tuple(rename(p, to, source=source) for p in item.products),
    )
