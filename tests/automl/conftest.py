from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest


@pytest.fixture(scope="session")
def churn(churn_csv: Path) -> pd.DataFrame:
    """The real telco churn table."""
    return pd.read_csv(churn_csv)
