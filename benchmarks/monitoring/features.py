"""What every side of the monitoring benchmark shares: the feature kinds and the planted shift.

Plain Python (no pmle import), so the Evidently venv can read it too.
"""

from __future__ import annotations

# The 19 features of pmle's demo telco churn data (src/pmle/resources/telco_churn.csv.gz) plus
# one derived column. Kinds as pmle's schema inference gives them: numbers → numeric (JS
# divergence over quantile buckets), strings → categorical (L-infinity).
NUMERIC = [
    "female",
    "senior_citizen",
    "partner",
    "dependents",
    "tenure",
    "phone_service",
    "paperless_billing",
    "monthly_charges",
    "total_charges",
    "services",  # derived: how many of the six add-on services are "Yes"
]
CATEGORICAL = [
    "multiple_lines",
    "internet_service",
    "online_security",
    "online_backup",
    "device_protection",
    "tech_support",
    "streaming_tv",
    "streaming_movies",
    "contract",
    "payment_method",
]
SERVICES = [
    "online_security",
    "online_backup",
    "device_protection",
    "tech_support",
    "streaming_tv",
    "streaming_movies",
]
KINDS = {**{c: "numeric" for c in NUMERIC}, **{c: "categorical" for c in CATEGORICAL}}

# The "current" data differs from the reference in exactly these two features.
SHIFTED = ["monthly_charges", "contract"]
CHARGES_FACTOR = 1.75  # monthly_charges × this in the current data (JS divergence ≈ 0.36)
CONTRACT_P = {"Month-to-month": 0.15, "One year": 0.25, "Two year": 0.60}  # reference ≈ .55/.21/.24

SIZES = {"100k": 100_000, "1m": 1_000_000, "10m": 10_000_000}
