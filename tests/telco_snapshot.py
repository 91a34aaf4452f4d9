"""A synthetic telco-CRM-like customer snapshot (shaped like the public 7,000-customer CRM extracts:
contract, tenure in months, monthly charges, internet service, payment method, tech support, a churn
flag for the last month), with churn drawn from a known logistic model so a test knows the best
achievable AUC. Codes in English, mapped onto the data model as an operator would: contract → tier,
internet service → segment, payment method → acquisition channel, tech support → SLA level (none
without internet), churned → end_date = the snapshot date (as ``servicewatch import customers
--snapshot-date`` writes it)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

AS_OF = date(2026, 10, 31)
CONTRACT = {"month_to_month": 0.0, "one_year": -1.1, "two_year": -2.3}
INTERNET = {"fiber_optic": 0.9, "dsl": 0.0, "none": -0.9}
PAYMENT = {"electronic_check": 0.5, "mailed_check": 0.1, "bank_transfer": 0.0, "credit_card": -0.05}
SUPPORT = -0.5  # tech support: yes
TENURE = -0.032  # per month
CHARGES = 0.009  # per currency unit above 65
INTERCEPT = -0.1


def true_logit(df: pd.DataFrame) -> np.ndarray:
    """The generating model's log-odds of churn for rows of :func:`snapshot`'s ``truth`` frame."""
    return (INTERCEPT + df["contract"].map(CONTRACT) + df["internet"].map(INTERNET) + df["payment"].map(PAYMENT)
            + SUPPORT * df["support"] + TENURE * df["tenure_months"] + CHARGES * (df["charges"] - 65)).to_numpy()


def snapshot(n: int = 7000, seed: int = 0) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """(frames for ``replace_all``, the truth: customer_id, the raw snapshot columns and churned)."""
    rng = np.random.default_rng(seed)
    contract = rng.choice(list(CONTRACT), n, p=[0.55, 0.21, 0.24])
    internet = rng.choice(list(INTERNET), n, p=[0.44, 0.34, 0.22])
    payment = rng.choice(list(PAYMENT), n, p=[0.34, 0.23, 0.22, 0.21])
    support = np.where(internet == "none", 0, rng.random(n) < 0.37).astype(int)
    tenure = np.where(contract == "month_to_month", np.ceil(rng.exponential(17, n)),
                      np.where(contract == "one_year", rng.integers(1, 73, n),
                               73 - np.ceil(rng.exponential(22, n))))
    tenure = np.clip(tenure, 1, 72).astype(int)
    base = pd.Series(internet).map({"none": 20.0, "dsl": 55.0, "fiber_optic": 88.0}).to_numpy()
    charges = np.round(np.maximum(18.0, base + rng.normal(0, 8, n) * (internet != "none")
                                  + rng.normal(0, 2, n) + 7 * support), 2)
    truth = pd.DataFrame({"customer_id": np.arange(1, n + 1), "contract": contract, "internet": internet,
                          "payment": payment, "support": support, "tenure_months": tenure, "charges": charges})
    truth["churned"] = rng.random(n) < 1 / (1 + np.exp(-true_logit(truth)))
    snap = pd.Timestamp(AS_OF)
    start = [(snap - pd.DateOffset(months=int(m))).date() for m in tenure]
    customers = pd.DataFrame({
        "customer_id": truth["customer_id"], "name": [f"customer {i}" for i in truth["customer_id"]],
        "segment": internet, "tier": contract, "region_id": 3, "acquisition_channel": payment,
        "account_manager_id": pd.array([None] * n, dtype="Int64"),
        "sla_level": np.where(internet == "none", None, np.where(support == 1, "support", "no_support")),
        "start_date": start, "end_date": [AS_OF if c else None for c in truth["churned"]],
        "churn_reason": None, "monthly_revenue": charges,
    })
    regions = pd.DataFrame({"region_id": [1, 2, 3], "name_en": ["Province", "City", "District"],
                            "name_zh": ["省", "市", "区"], "parent_id": pd.array([None, 1, 2], dtype="Int64"),
                            "level": ["province", "city", "district"]})
    managers = pd.DataFrame({"manager_id": pd.Series([], dtype="int64"), "name": pd.Series([], dtype=str),
                             "region_id": pd.Series([], dtype="int64")})
    return {"regions": regions, "account_managers": managers, "customers": customers}, truth
