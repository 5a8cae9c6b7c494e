"""Demographic attributes per user, from an allow-list of contract ``users`` columns."""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Demographic columns passed on to features; anything else (zip, names, truth labels) is not.
ATTRIBUTES = ("gender", "occupation", "country")
AGE_BANDS = (0, 18, 25, 35, 45, 55, 65, np.inf)


def age_band(age: pd.Series) -> pd.Series:
    """Marketing age bands (``"18-24"``, ``"25-34"``, ..., ``"65+"``); missing stays missing."""
    labels = [
        f"{int(lo)}+" if hi == np.inf else f"{int(lo)}-{int(hi) - 1}"
        for lo, hi in zip(AGE_BANDS[:-1], AGE_BANDS[1:], strict=True)
    ]
    bands = pd.cut(age, bins=list(AGE_BANDS), right=False, labels=labels)
    return bands.astype(object)


def demographics(users: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Age, age band, allow-listed attributes and account age per user.

    Parameters
    ----------
    users : DataFrame of shape (n_users, >=1)
        Contract ``users``; optional ``age``, ``gender``, ``occupation``, ``country`` and a
        signup time column (``signup_at`` or ``signup_time``).
    as_of : Timestamp

    Returns
    -------
    DataFrame of shape (n_users, n_known), indexed by ``user_id``
        Only the attributes the source has: ``age`` (float), ``age_band``, the
        ``ATTRIBUTES`` as strings, ``account_age_days``.
    """
    table = pd.DataFrame(index=pd.Index(users["user_id"].astype(str), name="user_id"))
    if "age" in users:
        age = pd.to_numeric(users["age"], errors="coerce").to_numpy(dtype=float)
        table["age"] = age
        table["age_band"] = age_band(table["age"]).to_numpy()
    for column in ATTRIBUTES:
        if column in users:
            values = users[column].astype("string").str.strip()
            table[column] = values.astype(object).where(values.notna(), None).to_numpy()
    signup = next((c for c in ("signup_at", "signup_time") if c in users), None)
    if signup is not None:
        stamps = pd.to_datetime(users[signup], utc=True).to_numpy()
        table["account_age_days"] = (as_of - pd.DatetimeIndex(stamps)).total_seconds() / 86_400
    return table
