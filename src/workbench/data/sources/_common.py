"""Small helpers the public-data sources share."""

from __future__ import annotations

import pandas as pd


def epoch_to_utc(seconds: pd.Series) -> pd.Series:
    """Epoch seconds to ``datetime64[us, UTC]``."""
    return pd.to_datetime(seconds.astype("int64"), unit="s", utc=True).astype("datetime64[us, UTC]")


def implied_consent(
    events: pd.DataFrame, purposes=("personalization", "analytics")
) -> pd.DataFrame:
    """Consent records for a published research data set whose publisher collected consent.

    One grant per user and purpose, dated at the user's first event, so that later records
    (a user's own withdrawal entered through the ``files`` source) still win.
    """
    first = events.groupby("user_id", sort=True)["timestamp"].min()
    frames = [
        pd.DataFrame(
            {
                "user_id": first.index.astype(str),
                "purpose": purpose,
                "granted": True,
                "timestamp": first.to_numpy(),
            }
        )
        for purpose in purposes
    ]
    consent = pd.concat(frames, ignore_index=True)
    consent["timestamp"] = consent["timestamp"].astype("datetime64[us, UTC]")
    return consent
