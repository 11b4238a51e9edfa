"""Optuna's journal storage over the metadata database: every tuning study of the workspace is
a log of operations in the `tuning_journal` table, appended in a transaction and replayed by
whoever reads it. Several threads and processes can work on one study at once, and a study
survives its process (resume it by optimizing it again)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from optuna.storages.journal import BaseJournalBackend

from pmle.storage import schema as t

if TYPE_CHECKING:
    from sqlalchemy import Engine

__all__ = ["SqlJournalBackend", "journal_storage"]


class SqlJournalBackend(BaseJournalBackend):
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def read_logs(self, log_number_from: int) -> Iterable[dict[str, Any]]:
        import sqlalchemy as sa

        j = t.tuning_journal
        query = sa.select(j.c.log).order_by(j.c.seq).offset(log_number_from)
        with self._engine.connect() as conn:
            return [dict(row) for row in conn.execute(query).scalars()]

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        if not logs:
            return
        with self._engine.begin() as conn:
            conn.execute(t.tuning_journal.insert(), [{"log": log} for log in logs])


def journal_storage(engine: Engine) -> Any:
    from optuna.storages import JournalStorage

    return JournalStorage(SqlJournalBackend(engine))
