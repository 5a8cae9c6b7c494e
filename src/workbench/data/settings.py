"""What curation may be told: column allow-lists, reading rules, ranges, dedup, linkage, keys.

``CurationSettings`` holds everything a source or a configuration may change about how raw
tables are curated (``ingest.split_options`` turns ``data.options`` into its fields). The
allow-lists name the only columns that reach the curated layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pandas as pd

from workbench.data import dedup, linkage
from workbench.data.fields import SPECS
from workbench.data.timestamps import DEFAULT_WINDOW_START

if TYPE_CHECKING:
    from workbench.data.sources.base import CurationRules

EVENT_COLUMNS = (
    "event_id",
    "user_id",
    "item_id",
    "event_type",
    "value",
    "revenue",
    "timestamp",
    "session_id",
    "device",
    "channel",
    "country",
    "return_of",
)
USER_COLUMNS = (
    "user_id",
    "age",
    "gender",
    "occupation",
    "country",
    "signup_time",
    "planted_segment",
    "planted_conversion_rate",
    "personalization_allowed",
    "analytics_allowed",
)
CONSENT_COLUMNS = ("user_id", "purpose", "granted", "timestamp")
ITEM_COLUMNS = SPECS["items"].contract
REQUIRED_EVENT_COLUMNS = SPECS["events"].required
EVENT_SYNONYMS = {
    "buy": "purchase",
    "order": "purchase",
    "transaction": "purchase",
    "add to cart": "add_to_cart",
    "add-to-cart": "add_to_cart",
    "addtocart": "add_to_cart",
    "cart": "add_to_cart",
    "pageview": "view",
    "page view": "view",
    "impression": "view",
    "rate": "rating",
    "refund": "return",
    "cancellation": "return",
}


@dataclass(frozen=True)
class CurationSettings:
    """How raw tables are curated (everything a source or configuration may change).

    Attributes
    ----------
    event_columns, user_columns, item_columns : tuple of str
        Allow-lists of the columns that reach the curated layer (others are dropped and
        listed in ``Curation.dropped_columns``).
    source_timezone : str
        IANA zone of naive local timestamps.
    timestamp_format : str, optional
        ``strptime`` format tried first; needed for day/month forms such as ``01/02/1997``.
    epoch_unit : {"s", "ms", "us", "ns"}, optional
        Unit of epoch numbers; told by magnitude when None.
    valid_from : str
        Earliest plausible timestamp; earlier ones are quarantined ``implausible_timestamp``.
    as_of, future_tolerance_seconds
        Timestamps after ``as_of`` (the time of the run when None) plus the tolerance (one day)
        are quarantined ``future_timestamp``.
    ranges : dict of str to (float, float)
        Plausible values per numeric column, over ``fields.DEFAULT_RANGES``.
    rating_scale : (float, float)
        Smallest and largest valid rating.
    synonyms : dict of str to dict
        Per categorical column, variant -> canonical value.
    country_aliases : dict of str to str
        Extra country names -> ISO alpha-2 codes.
    drop_content_duplicates : bool
        Drop events with other ids but equal ``dedup_keys`` within
        ``dedup_tolerance_seconds`` of the previous one. Off by default: in date-only data
        such rows are real repeat purchases.
    dedup_keys, dedup_tolerance_seconds
        The content rule's columns and tolerance.
    linkage : LinkageRules
        Entity resolution of user records (``linkage``).
    pseudonym_key : bytes, optional
        HMAC key of user pseudonyms. When None a random key is used for this call only:
        nothing leaks, but pseudonyms then change between runs (a warning says so).
    consent_default : bool
        Consent of every user when a source has no consent table at all.
    erased : frozenset of str
        Pseudonyms erased by ``privacy.forget``: their rows are dropped before anything is
        stored, quarantine included, and counted as ``<table>_erased``.
    source_rules : CurationRules, optional
        The curation steps the source declares for its own data (``Source.curation``).
    """

    event_columns: tuple[str, ...] = EVENT_COLUMNS
    user_columns: tuple[str, ...] = USER_COLUMNS
    item_columns: tuple[str, ...] = ITEM_COLUMNS
    source_timezone: str = "UTC"
    timestamp_format: str | None = None
    epoch_unit: str | None = None
    valid_from: str = DEFAULT_WINDOW_START
    as_of: str | None = None
    future_tolerance_seconds: float = 86_400.0
    ranges: dict = field(default_factory=dict)
    rating_scale: tuple[float, float] = (0.5, 5.0)
    synonyms: dict = field(default_factory=lambda: {"event_type": dict(EVENT_SYNONYMS)})
    country_aliases: dict = field(default_factory=dict)
    drop_content_duplicates: bool = False
    dedup_keys: tuple[str, ...] = dedup.DEFAULT_EVENT_KEYS
    dedup_tolerance_seconds: float = 1.0
    linkage: linkage.LinkageRules = field(default_factory=linkage.LinkageRules)
    pseudonym_key: bytes | None = None
    consent_default: bool = True
    erased: frozenset = frozenset()
    source_rules: CurationRules | None = None

    def now(self) -> pd.Timestamp:
        """The latest valid timestamp."""
        origin = pd.Timestamp(self.as_of) if self.as_of else pd.Timestamp.now(tz="UTC")
        origin = origin.tz_localize("UTC") if origin.tzinfo is None else origin
        return origin + pd.Timedelta(seconds=self.future_tolerance_seconds)

    def window(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        """The plausible window of timestamps: ``valid_from`` to ``now()``."""
        start = pd.Timestamp(self.valid_from)
        start = start.tz_localize("UTC") if start.tzinfo is None else start.tz_convert("UTC")
        return start, self.now()
