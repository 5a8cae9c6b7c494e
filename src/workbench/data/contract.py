"""The data contract: the tables every source is loaded into, checked with pandera.

Every source produces the same tables so nothing downstream knows where data came from.
Timestamps are ``datetime64[us, UTC]`` (pandas 3 defaults to microseconds).
"""

from __future__ import annotations

import warnings

import pandas as pd

with warnings.catch_warnings():
    # Where the Spark extra is installed, pandera imports pyspark.pandas, which warns that
    # pandas 3 is not fully supported. The Spark engine uses pyspark.sql only (docs/scale-out.md).
    warnings.filterwarnings("ignore", "PySpark does not yet fully support", FutureWarning)
    import pandera.pandas as pa
    from pandera.errors import SchemaError, SchemaErrors

TIMESTAMP_DTYPE = "datetime64[us, UTC]"

EVENT_TYPES = ("view", "click", "add_to_cart", "purchase", "return", "rating")
CONSENT_PURPOSES = ("personalization", "analytics")


class ContractError(ValueError):
    """A table does not satisfy the data contract; the message names table, column and values."""


EVENTS = pa.DataFrameSchema(
    {
        "event_id": pa.Column(str, unique=True),
        "user_id": pa.Column(str),
        "item_id": pa.Column(str),
        "event_type": pa.Column(str, pa.Check.isin(EVENT_TYPES)),
        "value": pa.Column(float, nullable=True),
        "revenue": pa.Column(float, nullable=True),
        "timestamp": pa.Column(TIMESTAMP_DTYPE),
        "session_id": pa.Column(str, required=False, nullable=True),
        "device": pa.Column(str, required=False, nullable=True),
        "channel": pa.Column(str, required=False, nullable=True),
        "country": pa.Column(str, required=False, nullable=True),
    },
    name="events",
    strict=False,
    coerce=False,
)

USERS = pa.DataFrameSchema(
    {"user_id": pa.Column(str, unique=True)},
    name="users",
    strict=False,
)

ITEMS = pa.DataFrameSchema(
    {
        "item_id": pa.Column(str, unique=True),
        "title": pa.Column(str, nullable=True),
        "text": pa.Column(str, nullable=True),
        "categories": pa.Column(object),
        "price": pa.Column(float, required=False, nullable=True),
    },
    name="items",
    strict=False,
)

CONSENT = pa.DataFrameSchema(
    {
        "user_id": pa.Column(str),
        "purpose": pa.Column(str, pa.Check.isin(CONSENT_PURPOSES)),
        "granted": pa.Column(bool),
        "timestamp": pa.Column(TIMESTAMP_DTYPE),
    },
    name="consent",
    strict=False,
)

BANDIT_LOGS = pa.DataFrameSchema(
    {
        "round": pa.Column(int),
        "action": pa.Column(int, pa.Check.ge(0)),
        "position": pa.Column(int, pa.Check.ge(0)),
        "reward": pa.Column(float),
        "propensity": pa.Column(float, [pa.Check.gt(0), pa.Check.le(1)]),
    },
    name="bandit_logs",
    strict=False,
)

SCHEMAS: dict[str, pa.DataFrameSchema] = {
    "events": EVENTS,
    "users": USERS,
    "items": ITEMS,
    "consent": CONSENT,
    "bandit_logs": BANDIT_LOGS,
}


def validate_table(frame: pd.DataFrame, table: str, max_examples: int = 5) -> pd.DataFrame:
    """Check ``frame`` against the contract schema of ``table``.

    Parameters
    ----------
    frame : DataFrame
        The table to check.
    table : str
        One of ``SCHEMAS``.
    max_examples : int
        How many offending values to quote in the error.

    Returns
    -------
    DataFrame
        ``frame`` unchanged, when it satisfies the contract.

    Raises
    ------
    ContractError
        Naming the table, each failing column and check, and a sample of the failing values.
    """
    schema = SCHEMAS[table]
    try:
        return schema.validate(frame, lazy=True)
    except SchemaErrors as errors:
        cases = errors.failure_cases
        lines = []
        for (column, check), group in cases.groupby(["column", "check"], dropna=False, sort=False):
            sample = group["failure_case"].head(max_examples).tolist()
            rows = group["index"].head(max_examples).tolist()
            lines.append(f"column {column!r} fails {check}: values {sample} at rows {rows}")
        message = f"table {table!r} breaks the data contract:\n  " + "\n  ".join(lines)
        raise ContractError(message) from None
    except SchemaError as error:  # pragma: no cover - lazy=True reports SchemaErrors
        raise ContractError(f"table {table!r} breaks the data contract: {error}") from error


def empty_table(table: str) -> pd.DataFrame:
    """An empty frame with the required columns of ``table``, typed as the contract says."""
    schema = SCHEMAS[table]
    columns = {
        name: pd.Series(dtype=str(column.dtype) if column.dtype is not None else object)
        for name, column in schema.columns.items()
        if column.required
    }
    return pd.DataFrame(columns)
