"""Reading BigQuery ML statements: scripts, CREATE / DROP MODEL, ML.* calls, syntax errors."""

from __future__ import annotations

import pytest

from pmle.sqlml.lexer import SqlSyntaxError
from pmle.sqlml.parse import (
    CreateModel,
    DropModel,
    find_ml_calls,
    leading_ctes,
    parse_statement,
    split_statements,
)


def test_split_statements_respects_strings_and_comments() -> None:
    script = "SELECT ';' AS a; -- a comment; here\nSELECT 2 /* ; */;\n\n;  SELECT `x;y` FROM t"
    texts = [s.text for s in split_statements(script)]
    assert texts == ["SELECT ';' AS a", "SELECT 2 /* ; */", "SELECT `x;y` FROM t"]


def test_create_model_with_options_transform_and_query() -> None:
    stmt = parse_statement(
        """CREATE OR REPLACE MODEL `proj.bqml_tutorial.penguins_model`
        TRANSFORM(ML.STANDARD_SCALER(culmen_length_mm) OVER() AS culmen, species, * EXCEPT (a, b))
        OPTIONS (model_type = 'LOGISTIC_REG', input_label_cols = ['species'],
                 l2_reg = 0.5, max_iterations = 10, early_stop = FALSE, learn_rate = -1e-2,
                 class_weights = [STRUCT('Adelie', 0.3), STRUCT('Gentoo', 0.7)])
        AS (SELECT * FROM penguins WHERE body_mass_g IS NOT NULL)"""
    )
    assert isinstance(stmt, CreateModel)
    assert stmt.name == "penguins_model" and stmt.qualified == "proj.bqml_tutorial.penguins_model"
    assert stmt.replace and not stmt.if_not_exists
    assert stmt.options == {
        "model_type": "LOGISTIC_REG",
        "input_label_cols": ["species"],
        "l2_reg": 0.5,
        "max_iterations": 10,
        "early_stop": False,
        "learn_rate": -0.01,
        "class_weights": [("Adelie", 0.3), ("Gentoo", 0.7)],
    }
    assert stmt.query == "SELECT * FROM penguins WHERE body_mass_g IS NOT NULL"
    assert stmt.transform is not None
    first, second, star = stmt.transform
    assert first.expression == "ML.STANDARD_SCALER(culmen_length_mm) OVER()"
    assert first.alias == "culmen"
    assert (second.expression, second.alias) == ("species", "species")
    assert star.star and star.except_ == ("a", "b")


def test_other_statements_and_drop() -> None:
    assert parse_statement("SELECT 1") is None
    assert parse_statement("CREATE TABLE t AS SELECT 1") is None
    assert parse_statement("DROP MODEL IF EXISTS ds.m") == DropModel("m", True)
    stmt = parse_statement("create model if not exists m options(model_type='kmeans') as select 1")
    assert isinstance(stmt, CreateModel) and stmt.if_not_exists and stmt.query == "select 1"


@pytest.mark.parametrize(
    ("sql", "where", "what"),
    [
        ("CREATE MODEL m OPTIONS(model_type 'x') AS SELECT 1", "line 1, column 35", "expected '='"),
        (
            "CREATE MODEL m\nOPTIONS(model_type='x',\n  l2_reg=) AS SELECT 1",
            "line 3, column 10",
            "expected a value",
        ),
        ("CREATE MODEL m OPTIONS(a=1, a=2) AS SELECT 1", "line 1, column 29", "given twice"),
        ("CREATE MODEL m OPTIONS(model_type='x') AS", "line 1", "training query"),
        ("CREATE MODEL m TRANSFORM(x + 1) AS SELECT 1", "line 1, column 26", "needs a name"),
        ("SELECT 'open", "line 1, column 8", "unterminated"),
    ],
)
def test_syntax_errors_point_at_the_position(sql: str, where: str, what: str) -> None:
    with pytest.raises(SqlSyntaxError) as info:
        split_statements(sql) and parse_statement(sql)
    assert where in str(info.value) and what in str(info.value)
    assert "^" in (info.value.hint or "")


def test_ml_calls_and_ctes() -> None:
    sql = (
        "WITH a AS (SELECT 1 x), b AS (SELECT * FROM a) "
        "SELECT * FROM ML.PREDICT(MODEL `ds.m`, (SELECT * FROM b), STRUCT(0.6 AS threshold)) p "
        "JOIN ML.EVALUATE(MODEL m2, TABLE ds.t) e ON true"
    )
    predict, evaluate = find_ml_calls(sql)
    assert predict.function == "PREDICT"
    assert [(a.kind, a.value) for a in predict.args] == [
        ("model", "ds.m"),
        ("query", "SELECT * FROM b"),
        ("struct", {"threshold": 0.6}),
    ]
    assert sql[predict.start : predict.end].startswith("ML.PREDICT(") and sql[
        predict.start : predict.end
    ].endswith("threshold))")
    assert [(a.kind, a.value) for a in evaluate.args] == [("model", "m2"), ("table", "ds.t")]
    assert leading_ctes(sql, predict.start) == "WITH a AS (SELECT 1 x), b AS (SELECT * FROM a)"
    assert leading_ctes("SELECT 1", 5) is None
    assert find_ml_calls("SELECT ML.STANDARD_SCALER(x) OVER() FROM t") == []
