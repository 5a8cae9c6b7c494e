"""Entity resolution: which user records are one person, without merging different people.

Two rules, in the manner of record linkage (Fellegi and Sunter 1969; Splink):

1. **Strong identifier**: records whose normalized e-mail address is equal are one person,
   unless that address is held by more than ``max_shared`` records (a placeholder such as
   ``none@none.com``, or a shared family address), which is reported instead.
2. **Fellegi–Sunter score**: other candidate pairs (found by blocking on exact phone, address,
   name, postcode or birth date) are compared field by field; each comparison level adds its
   log-likelihood ratio ``log2(m / u)``, where ``u`` is the share of records with that value
   (term-frequency adjusted: a common name is weak evidence) and ``m`` a documented constant.
   With the prior odds of two records matching, the sum gives a match probability. A pair is
   merged only when that probability reaches ``merge_probability`` **and** at least
   ``min_agreeing`` fields agree, the name among them (households share addresses and
   phones; a person keeps a name), and their birth dates, when both are known, are equal
   (a parent and a child may share a name too). Pairs above ``review_probability`` are
   reported for review
   and never applied.

Nothing fuzzy is done on e-mail addresses: ``anna@gmail.com`` and ``anne@gmail.com`` are
different mailboxes. ``benchmarks/dedup.py`` measures precision and recall of the merges on a
labelled set with hard negatives, beside the previous similarity rule.
"""

from __future__ import annotations

import logging
import math
import re
import unicodedata
from dataclasses import dataclass

import numpy as np
import pandas as pd
from rapidfuzz import fuzz
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

log = logging.getLogger(__name__)

MERGE_COLUMNS = ("user_id", "merged_into", "score", "fields", "rule")
REVIEW_COLUMNS = ("user_id", "candidate_id", "score", "fields", "reason")
FIELDS = ("email", "name", "phone", "address", "zip", "birth_date")

# (m when exact, m when close, m when different): how often one person's two records
# compare that way. u is measured on the data (term frequencies).
M_PROBABILITIES = {
    "name": (0.80, 0.15, 0.05),
    "phone": (0.75, 0.0, 0.25),
    "address": (0.70, 0.20, 0.10),
    "zip": (0.85, 0.0, 0.15),
    "birth_date": (0.95, 0.0, 0.05),
}
U_CLOSE = {"name": 0.003, "address": 0.002}
U_DIFFERENT = 0.99
EMAIL_DIFFERENT = math.log2(0.25 / 0.999)  # people do have several addresses
ADDRESS_WORDS = {
    "st": "street",
    "rd": "road",
    "ave": "avenue",
    "av": "avenue",
    "ln": "lane",
    "dr": "drive",
    "ct": "court",
    "pl": "place",
    "sq": "square",
    "blvd": "boulevard",
    "apt": "apartment",
    "no": "",
}


@dataclass(frozen=True)
class LinkageRules:
    """How user records are linked.

    Attributes
    ----------
    merge_probability : float
        Smallest match probability of a scored pair that is merged.
    review_probability : float
        Smallest match probability of a pair reported for review (not merged).
    min_agreeing : int
        Fields that must agree (exactly or closely) for a scored merge.
    max_shared : int
        Records an e-mail address may be shared by and still be one person's.
    max_block : int
        Largest blocking group compared (larger ones are values too common to link on).
    population : int
        Smallest population assumed when turning counts into frequencies (``u``) and prior
        odds, so that a small file is not taken for the whole world.
    """

    merge_probability: float = 0.999
    review_probability: float = 0.5
    min_agreeing: int = 2
    max_shared: int = 3
    max_block: int = 200
    population: int = 10_000


def _ascii_lower(value: str) -> str:
    decomposed = unicodedata.normalize("NFKD", value)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def normalize_field(name: str, value) -> str:
    """The comparable form of one identity value; ``""`` for none."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or pd.isna(value):
        return ""
    text = " ".join(str(value).split())
    if name == "email":
        return unicodedata.normalize("NFKC", text).strip().lower()
    if name == "phone":
        digits = re.sub(r"\D", "", text)
        return digits[-9:] if len(digits) >= 7 else ""
    if name in ("zip", "postcode"):
        return re.sub(r"[^0-9A-Za-z]", "", text).upper()
    if name == "birth_date":
        parsed = pd.to_datetime(text, errors="coerce", format="ISO8601")
        return parsed.strftime("%Y-%m-%d") if pd.notna(parsed) else ""
    words = re.sub(r"[^\w\s]", " ", _ascii_lower(text)).split()
    if name == "address":
        words = [ADDRESS_WORDS.get(w, w) for w in words]
    return " ".join(sorted(w for w in words if w))


def normalized_fields(users: pd.DataFrame) -> pd.DataFrame:
    """One comparable column per identity field present (``zip`` from zip or postcode)."""
    frame = pd.DataFrame(index=users.index)
    for name in FIELDS:
        source = name if name in users else ("postcode" if name == "zip" else None)
        if source in users:
            frame[name] = [normalize_field(name, v) for v in users[source].tolist()]
    return frame


def _level(name: str, left: str, right: str) -> str | None:
    """``exact``, ``close``, ``different``, or None when either value is missing."""
    if not left or not right:
        return None
    if left == right:
        return "exact"
    shared = set(left.split()) & set(right.split())
    if name == "name" and fuzz.ratio(left, right) >= 92 and shared:
        return "close"
    if name == "address" and fuzz.token_set_ratio(left, right) >= 95:
        return "close"
    return "different"


def _pair_weight(fields: pd.DataFrame, frequency: dict, i: int, j: int) -> tuple[float, list]:
    """The summed log2 likelihood ratio of a pair and the fields that agree."""
    weight, agreeing = 0.0, []
    for name in fields.columns:
        left, right = (
            fields.iat[i, fields.columns.get_loc(name)],
            fields.iat[j, fields.columns.get_loc(name)],
        )
        level = _level(name, left, right)
        if level is None:
            continue
        if name == "email":
            weight += 0.0 if level == "exact" else EMAIL_DIFFERENT
            continue
        m_exact, m_close, m_diff = M_PROBABILITIES[name]
        if level == "exact":
            weight += math.log2(m_exact / frequency[name].get(left, 1e-6))
            agreeing.append(name)
        elif level == "close":
            weight += math.log2(m_close / U_CLOSE[name])
            agreeing.append(name)
        else:
            weight += math.log2(m_diff / U_DIFFERENT)
    return weight, agreeing


def _values(fields: pd.DataFrame, name: str, i: int, j: int) -> tuple[str, str]:
    if name not in fields:
        return "", ""
    column = fields.columns.get_loc(name)
    return fields.iat[i, column], fields.iat[j, column]


def _candidate_pairs(fields: pd.DataFrame, max_block: int) -> set[tuple[int, int]]:
    """Pairs sharing an exact phone, address, name, postcode+surname or birth date+surname."""
    keys = []
    surname = fields["name"].str.split().str[-1].fillna("") if "name" in fields else None
    for name in ("phone", "address", "name"):
        if name in fields:
            keys.append(fields[name])
    for name in ("zip", "birth_date"):
        if name in fields and surname is not None:
            keys.append(fields[name].where(fields[name] == "", fields[name] + "|" + surname))
    pairs: set[tuple[int, int]] = set()
    for key in keys:
        for value, members in pd.Series(range(len(key)), index=key.to_numpy()).groupby(level=0):
            if value == "" or len(members) < 2 or len(members) > max_block:
                continue
            rows = members.to_numpy()
            pairs.update((int(a), int(b)) for k, a in enumerate(rows) for b in rows[k + 1 :])
    return pairs


def resolve_users(
    users: pd.DataFrame, rules: LinkageRules | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Link user records that are one person; report likely ones for review.

    Parameters
    ----------
    users : DataFrame of shape (n_users, ...)
        ``user_id`` (unique) and any of ``email``, ``name``, ``phone``, ``address``,
        ``zip``/``postcode``, ``birth_date``.
    rules : LinkageRules, optional

    Returns
    -------
    merges : DataFrame with columns ``MERGE_COLUMNS``
        One row per merged record: its ``user_id``, the ``merged_into`` canonical id (the
        smallest of its group), the ``score`` (match probability; 1 for an equal e-mail),
        the agreeing ``fields`` and the ``rule``.
    review : DataFrame with columns ``REVIEW_COLUMNS``
        Pairs that may be one person but were not merged, and why.
    """
    rules = rules or LinkageRules()
    users = users.reset_index(drop=True)
    fields = normalized_fields(users)
    if fields.empty or len(users) < 2:
        return empty_merges(), empty_review()
    ids = users["user_id"].astype(str).to_numpy()
    links, review = [], []
    if "email" in fields:
        _email_links(fields["email"], rules, links, review)
    scored = [c for c in fields.columns if c != "email"]
    if scored:
        population = max(len(users), rules.population)
        frequency = {
            n: (fields[n][fields[n] != ""].value_counts() / population).to_dict() for n in scored
        }
        prior = math.log2(1.0 / population)
        for i, j in sorted(_candidate_pairs(fields, rules.max_block)):
            weight, agreeing = _pair_weight(fields, frequency, i, j)
            probability = 1.0 / (1.0 + 2.0 ** -(prior + weight))
            enough = len(agreeing) >= rules.min_agreeing and "name" in agreeing
            born_apart = _level("birth_date", *_values(fields, "birth_date", i, j)) == "different"
            enough = enough and not born_apart  # one person has one birth date
            if probability >= rules.merge_probability and enough:
                links.append((i, j, probability, agreeing, "fellegi_sunter"))
            elif probability >= rules.review_probability:
                review.append((i, j, probability, agreeing, "below_threshold"))
    return _merges(ids, links), _review(ids, review)


def _email_links(emails: pd.Series, rules: LinkageRules, links: list, review: list) -> None:
    """Pairs of records holding one normalized e-mail address (unless it is too shared)."""
    for value, members in pd.Series(range(len(emails)), index=emails.to_numpy()).groupby(level=0):
        rows = members.to_numpy()
        if value == "" or len(rows) < 2:
            continue
        if len(rows) > rules.max_shared:
            log.info("an e-mail address held by %d user records is not used to link", len(rows))
            review.extend(
                (int(rows[0]), int(r), 0.0, ["email"], "shared_identifier") for r in rows[1:]
            )
            continue
        links.extend((int(rows[0]), int(r), 1.0, ["email"], "email") for r in rows[1:])


def _merges(ids: np.ndarray, links: list) -> pd.DataFrame:
    if not links:
        return empty_merges()
    i = np.array([link[0] for link in links])
    j = np.array([link[1] for link in links])
    graph = coo_matrix((np.ones(len(i)), (i, j)), shape=(len(ids), len(ids)))
    _, label = connected_components(graph, directed=False)
    canonical = pd.Series(ids).groupby(label).transform("min").to_numpy()
    best: dict[int, tuple] = {}
    for a, b, score, agreeing, rule in links:
        for row in (a, b):
            if row not in best or score > best[row][0]:
                best[row] = (score, ",".join(agreeing), rule)
    merged = [row for row in range(len(ids)) if canonical[row] != ids[row]]
    log.info("entity resolution: %d of %d user records merged", len(merged), len(ids))
    return pd.DataFrame(
        {
            "user_id": ids[merged],
            "merged_into": canonical[merged],
            "score": [float(best[r][0]) for r in merged],
            "fields": [best[r][1] for r in merged],
            "rule": [best[r][2] for r in merged],
        },
        columns=list(MERGE_COLUMNS),
    ).astype({"user_id": "str", "merged_into": "str", "fields": "str", "rule": "str"})


def _review(ids: np.ndarray, pairs: list) -> pd.DataFrame:
    if not pairs:
        return empty_review()
    return pd.DataFrame(
        {
            "user_id": [ids[p[0]] for p in pairs],
            "candidate_id": [ids[p[1]] for p in pairs],
            "score": [float(p[2]) for p in pairs],
            "fields": [",".join(p[3]) for p in pairs],
            "reason": [p[4] for p in pairs],
        },
        columns=list(REVIEW_COLUMNS),
    ).astype({"user_id": "str", "candidate_id": "str", "fields": "str", "reason": "str"})


def empty_merges() -> pd.DataFrame:
    """An audit of merges with no rows."""
    return pd.DataFrame(
        {c: pd.Series(dtype="float" if c == "score" else "str") for c in MERGE_COLUMNS}
    )


def empty_review() -> pd.DataFrame:
    """A table of candidate pairs with no rows."""
    return pd.DataFrame(
        {c: pd.Series(dtype="float" if c == "score" else "str") for c in REVIEW_COLUMNS}
    )


def apply_merges(ids: pd.Series, merges: pd.DataFrame) -> pd.Series:
    """Replace merged user ids by their canonical id (shape (n,)); others unchanged."""
    if merges.empty:
        return ids
    mapping = pd.Series(merges["merged_into"].to_numpy(), index=merges["user_id"].to_numpy())
    return ids.map(mapping).fillna(ids).astype(ids.dtype)
