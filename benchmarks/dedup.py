"""Entity resolution on a labelled set: precision of the merges applied, and recall.

People are generated with names, e-mails, phones, addresses, postcodes and birth dates; some
get a second record (a planted true duplicate: the same e-mail in another case or with spaces,
or a new e-mail with a typo in the name, another phone format, an abbreviated address), and
hard negatives are planted beside them: similar e-mails (anna@ / anne@), hundreds of
``userN@example.net``, shared common names with nothing else, members of one household
(same address and phone, other first name), people on one e-mail domain. Both rules run in
the same process on the same records:

- ``current``: ``workbench.data.linkage`` (equal e-mail, then a Fellegi–Sunter score that
  needs the name and another field);
- ``previous``: the rapidfuzz rule it replaced (weighted mean similarity >= 90 inside blocks
  of the e-mail's first letters), kept here verbatim as the baseline.

    .venv/bin/python benchmarks/dedup.py            # 2,000 people
    .venv/bin/python benchmarks/dedup.py --people 5000 --seed 3
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process, utils
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

FIRST = (
    "Anna Anne John Jon Mary Maria Peter Piotr James Jamie Sofia Sophie Lucas Luke Emma Emily "
    "Noah Liam Olivia Ava Mia Ella Leo Max Ben Eva Ivan Omar Yara Zoe Nina Tom Tim Sam Kim Ali "
    "Hana Jana Lena Lina Rosa Rita Paul Pablo Carla Carl Marta Mark"
).split()
LAST = (
    "Smith Brown Jones Taylor Wilson Davies Evans Thomas Johnson Roberts Walker Wright Green "
    "Hall Wood Clarke Hughes Edwards Turner Hill Moore Lewis Harris Martin Jackson Lee King "
    "Baker Young Allen Scott Adams Mitchell Campbell Kelly Morris Cook Bell Ward Cox"
).split()
STREETS = "High Church Station Park Victoria Mill School Queen King Green Manor Main".split()
KINDS = ("Street", "Road", "Lane", "Avenue")
ABBREVIATIONS = {"Street": "St", "Road": "Rd", "Lane": "Ln", "Avenue": "Ave"}
DOMAINS = ("gmail.com", "yahoo.co.uk", "outlook.com", "shop-mail.net")


def _person(rng: np.random.Generator, k: int) -> dict:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    return {
        "name": f"{first} {last}",
        "email": f"{first.lower()}.{last.lower()}{k}@{rng.choice(DOMAINS)}",
        "phone": f"+44 7{rng.integers(100, 999)} {rng.integers(100000, 999999)}",
        "address": f"{rng.integers(1, 200)} {rng.choice(STREETS)} {rng.choice(KINDS)}",
        "zip": f"LS{rng.integers(1, 30)} {rng.integers(1, 9)}AB",
        "birth_date": str(
            pd.Timestamp("1950-01-01") + pd.Timedelta(days=int(rng.integers(0, 20000)))
        )[:10],
    }


def _typo(text: str, rng: np.random.Generator) -> str:
    at = int(rng.integers(1, max(2, len(text) - 1)))
    return text[:at] + text[at + 1 :] if rng.random() < 0.5 else text[:at] + text[at] + text[at:]


def _variant(person: dict, rng: np.random.Generator) -> dict:
    """A second record of the same person, changed the way real sign-ups differ."""
    twin = dict(person)
    kind = rng.integers(0, 3)
    if kind == 0:  # the same mailbox typed differently
        twin["email"] = f"  {person['email'].upper()} "
    else:  # a new e-mail; name typo or reordered, phone and address formatted differently
        first, last = person["name"].split()
        twin["email"] = (
            f"{first[0].lower()}{last.lower()}{rng.integers(1000)}@{rng.choice(DOMAINS)}"
        )
        twin["name"] = f"{last}, {first}" if kind == 1 else f"{_typo(first, rng)} {last}"
        twin["phone"] = "0" + person["phone"].replace("+44 ", "").replace(" ", "")
        for long, short in ABBREVIATIONS.items():
            twin["address"] = twin["address"].replace(long, short + ".")
        if rng.random() < 0.3:
            twin["birth_date"] = None
    return twin


def labelled(n_people: int, seed: int) -> pd.DataFrame:
    """Records with ``person`` (the truth): planted duplicates and hard negatives."""
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(n_people):
        person = _person(rng, k)
        rows.append({**person, "person": k})
        if rng.random() < 0.15:
            rows.append({**_variant(person, rng), "person": k})
        if rng.random() < 0.05:  # a household member: same address and phone, another person
            member = {**person, "name": f"{rng.choice(FIRST)} {person['name'].split()[1]}"}
            member["email"] = f"home{k}@{rng.choice(DOMAINS)}"
            member["birth_date"] = _person(rng, k)["birth_date"]
            rows.append({**member, "person": n_people + k})
    base = 2 * n_people
    hard = [
        {"name": "Anna Smith", "email": "anna@gmail.com"},
        {"name": "Anne Smith", "email": "anne@gmail.com"},
        *({"email": f"user{k}@example.net"} for k in range(280)),
        *({"name": "John Smith"} for _ in range(20)),  # a common name and nothing else
        *(
            {"name": f"{rng.choice(FIRST)} {rng.choice(LAST)}", "email": f"x{k}@corp.example"}
            for k in range(50)
        ),
    ]
    rows += [{**row, "person": base + k} for k, row in enumerate(hard)]
    frame = pd.DataFrame(rows).sample(frac=1.0, random_state=seed).reset_index(drop=True)
    frame.insert(0, "user_id", [f"u{k:06d}" for k in range(len(frame))])
    return frame


def previous_rule(users: pd.DataFrame, threshold: float = 90.0) -> pd.DataFrame:
    """The rapidfuzz rule curation used before: mean similarity of name, e-mail, address."""
    scorers = {"name": fuzz.token_sort_ratio, "email": fuzz.ratio, "address": fuzz.token_set_ratio}
    fields = [f for f in scorers if f in users]
    email = users["email"].fillna("").str.lower().str.strip().str.slice(0, 3)
    name = users["name"].fillna("").map(lambda v: "".join(sorted(v.lower().split())))
    key = email.where(email.str.len() > 0, name.str.slice(0, 3))
    i_all, j_all = [], []
    for _, members in users.groupby(key.to_numpy()).indices.items():
        if len(members) < 2:
            continue
        members = members[:5000]
        block = users.iloc[members]
        total = np.zeros((len(block), len(block)), dtype=np.float32)
        weight = np.zeros_like(total)
        for f in fields:
            values = [" ".join(str(v).lower().split()) if pd.notna(v) else "" for v in block[f]]
            present = np.array([bool(v) for v in values])
            scores = process.cdist(
                values, values, scorer=scorers[f], processor=utils.default_process
            )
            both = np.outer(present, present).astype(np.float32)
            total += scores.astype(np.float32) * both
            weight += both
        with np.errstate(invalid="ignore", divide="ignore"):
            matrix = np.where(weight > 0, total / weight, 0.0)
        i, j = np.nonzero(np.triu(matrix >= threshold, k=1))
        i_all.append(members[i])
        j_all.append(members[j])
    i = np.concatenate(i_all) if i_all else np.zeros(0, int)
    j = np.concatenate(j_all) if j_all else np.zeros(0, int)
    graph = coo_matrix((np.ones(len(i)), (i, j)), shape=(len(users), len(users)))
    _, label = connected_components(graph, directed=False)
    ids = users["user_id"].to_numpy()
    canonical = pd.Series(ids).groupby(label).transform("min").to_numpy()
    merged = canonical != ids
    return pd.DataFrame({"user_id": ids[merged], "merged_into": canonical[merged]})


def score(users: pd.DataFrame, merges: pd.DataFrame) -> dict:
    """Precision of the merges applied (pairs put together) and recall of true pairs."""
    person = users.set_index("user_id")["person"]
    group = pd.Series(users["user_id"].to_numpy(), index=users["user_id"].to_numpy())
    group[merges["user_id"].to_numpy()] = merges["merged_into"].to_numpy()
    predicted = _pairs(group.groupby(group.to_numpy()).groups.values())
    truth = _pairs(users.groupby("person")["user_id"].agg(list))
    correct = sum(person[a] == person[b] for a, b in predicted)
    return {
        "merges": len(merges),
        "pairs_merged": len(predicted),
        "precision": correct / len(predicted) if predicted else 1.0,
        "recall": len(predicted & truth) / len(truth) if truth else 1.0,
        "true_pairs": len(truth),
    }


def _pairs(groups) -> set[tuple[str, str]]:
    pairs = set()
    for members in groups:
        members = sorted(members)
        pairs |= {(a, b) for k, a in enumerate(members) for b in members[k + 1 :]}
    return pairs


def main(argv: list[str] | None = None) -> None:
    from workbench.data.linkage import resolve_users

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    users = labelled(args.people, args.seed)
    print(f"{len(users):,} records of {users['person'].nunique():,} people")
    print(f"{'rule':<10} {'merges':>7} {'precision':>10} {'recall':>8} {'seconds':>8}")
    for name, rule in (
        ("current", lambda u: resolve_users(u)[0]),
        ("previous", previous_rule),
    ):
        started = time.perf_counter()
        merges = rule(users.drop(columns=["person"]))
        seconds = time.perf_counter() - started
        figures = score(users, merges)
        print(
            f"{name:<10} {figures['merges']:>7} {figures['precision']:>10.4f} "
            f"{figures['recall']:>8.4f} {seconds:>8.2f}"
        )
    print(f"true duplicate pairs: {figures['true_pairs']}")


if __name__ == "__main__":
    main()
