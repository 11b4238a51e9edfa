"""Scaling prototypes: custom training jobs (:mod:`pmle.training.jobs`) and tuning studies
(:mod:`pmle.training.tuning`), locally or on Ray."""

from __future__ import annotations

from pmle.training.jobs import Job, Jobs

__all__ = ["Job", "Jobs"]
