"""What the service is told: its settings (fixed at start) and its flags (reloaded live).

The flags file (YAML) turns components of the decision path on and off, sets the share of users
sent to the challenger (assigned by a stable hash of the user id, so a user keeps a variant
while the share stays the same), the exploration and the guard. A missing file means the
defaults; an invalid one is an error naming the field and value (at start) or keeps the flags
in force (on a live reload).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

CHAMPION = "champion"
CHALLENGER = "challenger"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Components(_Strict):
    """Steps of the decision path, each on or off."""

    consent: bool = True
    rules: bool = True
    personas: bool = True
    conversion: bool = True
    profile: bool = True
    exploration: bool = True


class Exploration(_Strict):
    """Softmax over standardized scores, mixed with a floor on every shown item's propensity."""

    temperature: float = Field(1.0, gt=0)
    min_propensity: float = Field(0.01, ge=0, lt=1)
    candidates: int = Field(20, ge=1, le=1000)


class Guard(_Strict):
    """When the challenger is rolled back: after ``min_decisions`` of its own, an error rate
    above the champion's by ``error_margin`` or a mean reward below it by ``reward_margin``."""

    enabled: bool = True
    min_decisions: int = Field(50, ge=1)
    error_margin: float = Field(0.05, ge=0)
    reward_margin: float = Field(0.05, ge=0)


class Flags(_Strict):
    """The live flags of the service (``flags.yaml``)."""

    components: Components = Components()
    challenger_share: float = Field(0.0, ge=0, le=1)
    salt: str = "canary"
    exploration: Exploration = Exploration()
    guard: Guard = Guard()
    banners: dict[str, str] = {}


class ServeSettings(_Strict):
    """Where the service finds its models, data, flags and log.

    Attributes
    ----------
    dataset : str
        Registered models are ``<dataset>-recommender``, ``-personas``, ``-conversion``.
    pseudonym_key : bytes
        The project's pseudonymization key, the one the data set was ingested with: requests
        carry the site's own user ids, which the service pseudonymizes at the door.
    decision_log : Path
        The append-only decision log (JSON lines).
    flags : Path, optional
        The flags file, reloaded when it changes.
    curated : Path, optional
        The curated data set (consent, user features for rules and personas).
    rules : list of Path
        Segment rule files (``experiments/segments/default.yaml``).
    profile_url : str, optional
        ``redis://...`` for profiles in Redis; in-process when None.
    refresh_seconds : float
        How often flags and registry aliases are checked.
    seed : int, optional
        Seeds exploration draws (same seed, same requests in the same order: same draws).
    """

    dataset: str
    pseudonym_key: bytes = Field(repr=False, min_length=1)
    decision_log: Path
    flags: Path | None = None
    curated: Path | None = None
    rules: list[Path] = []
    profile_url: str | None = None
    refresh_seconds: float = Field(2.0, gt=0)
    seed: int | None = None


def load_flags(path: Path | None) -> Flags:
    """The flags in ``path`` (defaults when it is None or absent).

    Raises
    ------
    ValueError
        Naming the file, the field and the value.
    """
    if path is None or not Path(path).is_file():
        return Flags()
    document = yaml.safe_load(Path(path).read_text()) or {}
    try:
        return Flags.model_validate(document)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']} (got {e.get('input')!r})"
            for e in error.errors()
        )
        raise ValueError(f"{path}: {problems}") from None


def bucket(user_id: str, salt: str) -> float:
    """A stable number in [0, 1) for ``user_id``: the same in every process and run."""
    digest = hashlib.sha256(f"{salt}:{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign_variant(user_id: str, share: float, salt: str) -> str:
    """``challenger`` for the users whose bucket falls below ``share``, else ``champion``."""
    return CHALLENGER if bucket(user_id, salt) < share else CHAMPION
