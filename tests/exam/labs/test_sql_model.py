"""Lab sql-model: fails on a fresh workspace, names what a weak model misses, passes once a
classifier clears the bar on held-out rows and the prospects are scored into a table."""

from __future__ import annotations

from pathlib import Path

from pmle.exam import labs
from pmle.exam.labs import sql_model


def test_sql_model_lab(tmp_path: Path) -> None:
    folder = tmp_path / "lab"
    ws = labs.start("sql-model", folder)
    assert [d.name for d in ws.datasets.list()] == ["campaign", "prospects"]
    assert ws.datasets.get("campaign").num_rows == sql_model.ROWS
    fresh = labs.check("sql-model", folder)
    assert [c.passed for c in fresh] == [False] * 4
    assert "CREATE MODEL" in fresh[0].detail and "CREATE TABLE prospect_scores" in fresh[3].detail

    # a model without the customers' history: a classifier, held out, but under the bar
    ws.sql(
        "CREATE MODEL weak OPTIONS(model_type='BOOSTED_TREE_CLASSIFIER', "
        "input_label_cols=['subscribed']) AS SELECT age, job, balance, contact, subscribed "
        "FROM campaign"
    )
    # predicting something else from the same table does not count
    ws.sql(
        "CREATE MODEL contact OPTIONS(model_type='BOOSTED_TREE_CLASSIFIER', "
        "input_label_cols=['contact']) AS SELECT age, job, contact FROM campaign"
    )
    weak = labs.check("sql-model", folder)
    assert [c.passed for c in weak] == [True, True, False, False]
    assert "weak@1" in weak[0].detail and "contact@1" not in weak[0].detail
    assert "the best so far is weak@1" in weak[2].detail

    ws.sql(
        "CREATE MODEL subscribe OPTIONS(model_type='BOOSTED_TREE_CLASSIFIER', "
        "input_label_cols=['subscribed']) AS SELECT * EXCEPT(customer_id) FROM campaign"
    )
    ws.sql("CREATE TABLE few AS SELECT 1 AS x")  # an unrelated table
    ws.sql(
        "CREATE TABLE prospect_scores AS SELECT customer_id, predicted_subscribed FROM "
        "ML.PREDICT(MODEL subscribe, (SELECT * FROM prospects LIMIT 100))"
    )
    partial = labs.check("sql-model", folder)
    assert [c.passed for c in partial] == [True, True, True, False]
    assert "holds 100 predictions" in partial[3].detail
    ws.sql("DROP TABLE prospect_scores")
    ws.sql(
        "CREATE TABLE prospect_scores AS SELECT * FROM ML.PREDICT(MODEL subscribe, TABLE prospects)"
    )
    solved = labs.check("sql-model", folder)
    assert all(c.passed for c in solved), solved
    assert "subscribe@1" in solved[2].detail
    ws.close()


def test_an_evaluation_on_training_rows_does_not_count(tmp_path: Path) -> None:
    folder = tmp_path / "lab"
    with labs.start("sql-model", folder) as ws:
        ws.sql(
            "CREATE MODEL overfit OPTIONS(model_type='BOOSTED_TREE_CLASSIFIER', "
            "input_label_cols=['subscribed'], data_split_method='NO_SPLIT') AS "
            "SELECT * FROM campaign"
        )
    checks = labs.check("sql-model", folder)
    assert [c.passed for c in checks[:3]] == [True, False, False]
    assert "NO_SPLIT" in checks[1].detail
