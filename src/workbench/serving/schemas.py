"""Request and response bodies of the HTTP API (pydantic: a bad request is a 422 naming the
field and the value, never a 5xx)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Id = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=256)]
Scalar = str | int | float | bool | None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class Context(BaseModel):
    """Where the request comes from; extra scalar fields (``cell``, ``country``) are kept."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False)

    device: str | None = None
    time: datetime | None = None
    page: str | None = None

    def scalars(self) -> dict[str, Scalar]:
        """Every field as a JSON scalar (``time`` in ISO 8601)."""
        fields = self.model_dump(mode="json", exclude_none=True)
        return {k: v for k, v in fields.items() if isinstance(v, Scalar)}


class Candidate(_Strict):
    item_id: Id
    features: dict[str, float] = {}


class RankRequest(_Strict):
    """``POST /rank``."""

    user_id: Id
    context: Context = Context()
    candidates: list[Candidate] | None = Field(None, min_length=1, max_length=1000)
    exclude: list[Id] = Field(default_factory=list, max_length=1000)
    k: int = Field(10, ge=1, le=1000)


class RankedItem(BaseModel):
    item_id: str
    probability: float
    score: float


class RankResponse(BaseModel):
    """The decision: the ranking with its distribution, the item shown and why."""

    event_id: str
    user_id: str
    shown: str
    propensity: float
    ranking: list[RankedItem]
    variant: str
    model_versions: dict[str, str]
    personalized: bool
    segments: list[str]
    banner: str | None
    reasons: list[str]


class RewardRequest(_Strict):
    """``POST /events/{event_id}/reward``."""

    reward: float = Field(ge=-1e6, le=1e6)


class RewardResponse(BaseModel):
    event_id: str
    reward: float
    recorded: bool  # False when the same reward was already logged
