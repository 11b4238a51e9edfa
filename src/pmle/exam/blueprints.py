"""Exam blueprints as data: sections with their weights and objectives, the dates each version
was in force, and where it comes from — and the allocation of a form's questions to sections
by largest remainder over the weights.

`pmle-v2` is the default: the guide whose six abilities pmle is built around. `pmle-v3.1`
adds generative AI with the same section structure. `pmle-2026-06` follows the product renames
of June 2026; its transcription is not yet verified against the published guide (marked so).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pmle.errors import InvalidInput, NotFound

__all__ = ["BLUEPRINTS", "DEFAULT", "Blueprint", "Objective", "Section", "allocate", "blueprint"]

DEFAULT = "pmle-v2"
GUIDE = "https://cloud.google.com/learn/certification/guides/machine-learning-engineer"


@dataclass(frozen=True)
class Objective:
    id: str  # "1.1"
    title: str


@dataclass(frozen=True)
class Section:
    number: int
    title: str
    weight: float  # percent of the exam
    objectives: tuple[Objective, ...] = ()


@dataclass(frozen=True)
class Blueprint:
    id: str
    title: str
    in_force: str  # human-readable dates
    source: str
    sections: tuple[Section, ...]
    verified: bool = True
    notes: str = ""
    lengths: tuple[int, ...] = field(default=(50, 60))

    @property
    def objectives(self) -> list[Objective]:
        return [o for s in self.sections for o in s.objectives]

    def section_of(self, objective: str) -> Section:
        for s in self.sections:
            if any(o.id == objective for o in s.objectives):
                return s
        raise NotFound(f"{self.id} has no objective {objective!r}")


def _objectives(*pairs: tuple[str, str]) -> tuple[Objective, ...]:
    return tuple(Objective(i, t) for i, t in pairs)


_V2_OBJECTIVES = {
    1: _objectives(
        ("1.1", "Developing ML models by using BigQuery ML"),
        ("1.2", "Building AI solutions by using ML APIs"),
        ("1.3", "Training models by using AutoML"),
    ),
    2: _objectives(
        ("2.1", "Exploring and preprocessing organization-wide data"),
        ("2.2", "Model prototyping using Jupyter notebooks"),
        ("2.3", "Tracking and running ML experiments"),
    ),
    3: _objectives(
        ("3.1", "Building models"),
        ("3.2", "Training models"),
        ("3.3", "Choosing appropriate hardware for training"),
    ),
    4: _objectives(
        ("4.1", "Serving models"),
        ("4.2", "Scaling online model serving"),
    ),
    5: _objectives(
        ("5.1", "Developing end-to-end ML pipelines"),
        ("5.2", "Automating model retraining"),
        ("5.3", "Tracking and auditing metadata"),
    ),
    6: _objectives(
        ("6.1", "Identifying risks to ML solutions"),
        ("6.2", "Monitoring, testing, and troubleshooting ML solutions"),
    ),
}
_TITLES_V2 = (
    "Architecting low-code ML solutions",
    "Collaborating within and across teams to manage data and models",
    "Scaling prototypes into ML models",
    "Serving and scaling models",
    "Automating and orchestrating ML pipelines",
    "Monitoring ML solutions",
)
_TITLES_V3 = (
    "Architecting low-code AI solutions",
    "Collaborating within and across teams to manage data and models",
    "Scaling prototypes into ML models",
    "Serving and scaling models",
    "Automating and orchestrating ML pipelines",
    "Monitoring AI solutions",
)


def _sections(
    titles: tuple[str, ...],
    weights: tuple[float, ...],
    objectives: dict[int, tuple[Objective, ...]],
) -> tuple[Section, ...]:
    return tuple(
        Section(n, title, weight, objectives.get(n, ()))
        for n, (title, weight) in enumerate(zip(titles, weights, strict=True), start=1)
    )


BLUEPRINTS: dict[str, Blueprint] = {
    "pmle-v2": Blueprint(
        "pmle-v2",
        "Professional Machine Learning Engineer (v2)",
        "late 2023 – 30 Sep 2024",
        GUIDE,
        _sections(_TITLES_V2, (12, 16, 18, 19, 21, 14), _V2_OBJECTIVES),
    ),
    "pmle-v3.1": Blueprint(
        "pmle-v3.1",
        "Professional Machine Learning Engineer (v3.1, with generative AI)",
        "1 Oct 2024 – May 2026",
        GUIDE,
        _sections(_TITLES_V3, (13, 14, 18, 20, 22, 13), _V2_OBJECTIVES),
        notes="Same objective structure as v2; 1.2 adds foundation models, 6.1 AI risks.",
    ),
    "pmle-2026-06": Blueprint(
        "pmle-2026-06",
        "Professional Machine Learning Engineer (June 2026, renamed products)",
        "from 1 Jun 2026",
        GUIDE,
        _sections(_TITLES_V3, (13, 16, 21, 20, 18, 13), _V2_OBJECTIVES),
        verified=False,
        notes="Weights transcribed, not yet checked against the published guide (they add up "
        "to 101; forms allocate over their sum); objectives assumed unchanged from v3.1.",
    ),
}


def blueprint(name: str | None = None) -> Blueprint:
    """The blueprint named `name` (default pmle-v2)."""
    key = name or DEFAULT
    found = BLUEPRINTS.get(key)
    if found is None:
        raise NotFound(f"no blueprint {key!r}", hint=", ".join(BLUEPRINTS))
    return found


def allocate(bp: Blueprint, count: int) -> dict[int, int]:
    """Questions per section for a form of `count`, by largest remainder over the weights
    (equal remainders: the earlier section first)."""
    if count < len(bp.sections):
        raise InvalidInput(f"a form needs at least {len(bp.sections)} questions, one per section")
    total = sum(s.weight for s in bp.sections)
    quotas = {s.number: count * s.weight / total for s in bp.sections}
    out = {n: int(q) for n, q in quotas.items()}
    left = count - sum(out.values())
    order = sorted(quotas, key=lambda n: (-round(quotas[n] - out[n], 9), n))
    for n in order[:left]:
        out[n] += 1
    return out
