"""Rule-based tags and segments: a small, safe expression language over feature columns.

A rule is one Python-like boolean expression over the columns of the user features, such as
``rfm_score >= 13 and device_mobile > 0.5`` or ``age_band in ["25-34", "35-44"]``. Rules are
parsed with :mod:`ast` and checked against an allow-list of node types (comparisons,
``and``/``or``/``not``, arithmetic, number and string literals, ``in`` lists, column names);
they are then evaluated by walking the tree over pandas columns. Nothing is ever passed to
``eval``: calls, attribute access, indexing, lambdas and the like are rejected with an error
that names the rule.

Rule files are YAML::

    parameters:            # feature settings the rules rely on
      cart_window_days: 7
    segments:
      high_value_customer: rfm_score >= 13
      cart_abandoner:
        rule: abandoned_carts >= 1
        description: added to cart, no purchase within cart_window_days
"""

from __future__ import annotations

import ast
import difflib
import logging
import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import reduce
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

log = logging.getLogger(__name__)

MAX_RULE_LENGTH = 1000
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")

_BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Mod: operator.mod,
}
_COMPARE = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_ALLOWED = (
    ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.UAdd,
    ast.BinOp, ast.Compare, ast.In, ast.NotIn, ast.Name, ast.Load, ast.Constant, ast.List,
    ast.Tuple, *_BINARY, *_COMPARE,
)  # fmt: skip
_FORBIDDEN_NAMES = {
    ast.Call: "function calls",
    ast.Attribute: "attribute access",
    ast.Subscript: "indexing",
    ast.Lambda: "lambdas",
    ast.Pow: "powers",
    ast.NamedExpr: "assignments",
    ast.IfExp: "conditional expressions",
}


class RuleError(ValueError):
    """A rule or rule file is invalid; the message names the rule (and the file)."""


@dataclass(frozen=True)
class Rule:
    """One validated tag or segment rule.

    Attributes
    ----------
    name : str
        The tag users who satisfy the rule receive.
    expression : str
        The rule's text.
    description : str
    tree : ast.Expression
        The validated syntax tree.
    """

    name: str
    expression: str
    description: str = ""
    tree: ast.Expression = field(default=None, repr=False, compare=False)

    @property
    def columns(self) -> frozenset[str]:
        """Feature columns the rule reads."""
        return frozenset(node.id for node in ast.walk(self.tree) if isinstance(node, ast.Name))


@dataclass(frozen=True)
class SegmentSpec:
    """A rule file: its rules, in file order, and the feature parameters they assume."""

    rules: tuple[Rule, ...]
    parameters: dict[str, Any] = field(default_factory=dict)


def parse_rule(name: str, expression: str, description: str = "") -> Rule:
    """Parse and validate one rule.

    Raises
    ------
    RuleError
        Naming the rule, for a bad name, a syntax error or a construct outside the language.
    """
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise RuleError(f"rule {name!r}: names are lower-case letters, digits and underscores")
    if not isinstance(expression, str) or not expression.strip():
        raise RuleError(f"rule {name!r}: the rule must be a non-empty string, got {expression!r}")
    if len(expression) > MAX_RULE_LENGTH:
        raise RuleError(f"rule {name!r}: longer than {MAX_RULE_LENGTH} characters")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as error:
        raise RuleError(
            f"rule {name!r}: syntax error at column {error.offset} in {expression!r}: {error.msg}"
        ) from None
    lists = {
        id(right)
        for node in ast.walk(tree)
        if isinstance(node, ast.Compare)
        for right in node.comparators
    }
    for node in ast.walk(tree):
        _check_node(name, expression, node)
        if isinstance(node, ast.List | ast.Tuple) and id(node) not in lists:
            raise RuleError(f"rule {name!r}: lists are only allowed after 'in'")
    return Rule(name=name, expression=expression.strip(), description=description, tree=tree)


def _check_node(name: str, expression: str, node: ast.AST) -> None:
    """Raise unless ``node`` belongs to the rule language."""
    if not isinstance(node, _ALLOWED):
        what = _FORBIDDEN_NAMES.get(type(node), f"{type(node).__name__} expressions")
        raise RuleError(f"rule {name!r}: {what} are not allowed in {expression!r}")
    if isinstance(node, ast.Constant) and type(node.value) not in (int, float, str, bool):
        raise RuleError(f"rule {name!r}: literal {node.value!r} is not a number or a string")
    if isinstance(node, ast.Name) and node.id.startswith("_"):
        raise RuleError(f"rule {name!r}: column names cannot start with '_' ({node.id!r})")
    if isinstance(node, ast.Compare):
        for op, right in zip(node.ops, node.comparators, strict=True):
            is_membership = isinstance(op, ast.In | ast.NotIn)
            is_list = isinstance(right, ast.List | ast.Tuple)
            if is_membership != is_list:
                raise RuleError(f"rule {name!r}: 'in' takes a literal list, as in x in [1, 2]")
            if is_list and not all(isinstance(e, ast.Constant) for e in right.elts):
                raise RuleError(f"rule {name!r}: 'in' lists may only hold literals")


def evaluate_rule(rule: Rule, features: pd.DataFrame) -> pd.Series:
    """Boolean membership of each row of ``features`` in ``rule``.

    Missing values never satisfy a comparison, so users without, say, a known age are outside
    every age rule.

    Parameters
    ----------
    rule : Rule
    features : DataFrame of shape (n_users, n_features)

    Returns
    -------
    Series of shape (n_users,) of bool, aligned with ``features``
    """
    missing = sorted(rule.columns - set(features.columns))
    if missing:
        raise RuleError(f"rule {rule.name!r}: unknown column(s) {missing}")
    try:
        value = _evaluate(rule.tree.body, features)
        result = _as_bool(value, features.index)
    except (TypeError, ValueError) as error:
        raise RuleError(f"rule {rule.name!r} ({rule.expression}): {error}") from None
    return result.rename(rule.name)


def _evaluate(node: ast.AST, frame: pd.DataFrame) -> Any:
    """Value of a validated node over ``frame``: a column, a scalar or a list."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return frame[node.id]
    if isinstance(node, ast.List | ast.Tuple):
        return [element.value for element in node.elts]
    if isinstance(node, ast.BoolOp):
        values = [_as_bool(_evaluate(v, frame), frame.index) for v in node.values]
        combine = operator.and_ if isinstance(node.op, ast.And) else operator.or_
        return reduce(combine, values)
    if isinstance(node, ast.UnaryOp):
        operand = _evaluate(node.operand, frame)
        if isinstance(node.op, ast.Not):
            return ~_as_bool(operand, frame.index)
        return -operand if isinstance(node.op, ast.USub) else +operand
    if isinstance(node, ast.BinOp):
        left, right = _number(_evaluate(node.left, frame)), _number(_evaluate(node.right, frame))
        return _BINARY[type(node.op)](left, right)
    return _compare(node, frame)


def _compare(node: ast.Compare, frame: pd.DataFrame) -> pd.Series:
    """A comparison chain ``a < b <= c`` as ``(a < b) & (b <= c)``."""
    left = _evaluate(node.left, frame)
    results = []
    for op, right_node in zip(node.ops, node.comparators, strict=True):
        right = _evaluate(right_node, frame)
        if isinstance(op, ast.In | ast.NotIn):
            inside = pd.Series(left, index=frame.index).isin(right)
            result = inside if isinstance(op, ast.In) else ~inside
        else:
            result = _as_bool(_COMPARE[type(op)](left, right), frame.index)
        results.append(result & _known(left, frame.index) & _known(right, frame.index))
        left = right
    return reduce(operator.and_, results)


def _number(value: Any) -> Any:
    """``value`` when it is numeric: arithmetic on text (``"a" * 10**9``) is refused."""
    numeric = (
        pd.api.types.is_numeric_dtype(value.dtype)
        if isinstance(value, pd.Series)
        else isinstance(value, int | float) and not isinstance(value, bool)
    )
    if not numeric:
        raise TypeError("arithmetic needs numbers, not text or true/false values")
    return value


def _known(value: Any, index: pd.Index) -> pd.Series | bool:
    """Where ``value`` is not missing, so that ``!=`` and ``not in`` never match a gap."""
    return value.notna() if isinstance(value, pd.Series) else True


def _as_bool(value: Any, index: pd.Index) -> pd.Series:
    """``value`` as a boolean column (missing is False); numbers are an error, not truthy."""
    if isinstance(value, bool | np.bool_):
        return pd.Series(bool(value), index=index)
    if isinstance(value, pd.Series) and pd.api.types.is_bool_dtype(value.dtype):
        return value.fillna(False).astype(bool)
    raise TypeError("'and', 'or', 'not' and the rule itself need true/false values, not numbers")


def parse_segments(document: Any, source: str = "<segments>") -> SegmentSpec:
    """Validate a rule-file mapping (``parameters``, ``segments``, ``tags``) into a spec.

    ``segments`` and ``tags`` are both mappings of name to rule (a string, or a mapping with
    ``rule`` and an optional ``description``); names must be unique across the two.

    Raises
    ------
    RuleError
        Naming ``source`` and the offending rule or key.
    """
    if not isinstance(document, dict):
        raise RuleError(f"{source}: expected a mapping with 'segments' at the top level")
    unknown = sorted(set(document) - {"parameters", "segments", "tags"})
    if unknown:
        raise RuleError(f"{source}: unknown top-level key(s) {unknown}")
    parameters = document.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise RuleError(f"{source}: 'parameters' must be a mapping")
    rules: dict[str, Rule] = {}
    for section in ("segments", "tags"):
        entries = document.get(section) or {}
        if not isinstance(entries, dict):
            raise RuleError(f"{source}: '{section}' must be a mapping of name to rule")
        for name, entry in entries.items():
            if name in rules:
                raise RuleError(f"{source}: rule {name!r} is defined twice")
            try:
                rules[name] = _parse_entry(name, entry)
            except RuleError as error:
                raise RuleError(f"{source}: {error}") from None
    if not rules:
        raise RuleError(f"{source}: no rules under 'segments' or 'tags'")
    return SegmentSpec(rules=tuple(rules.values()), parameters=dict(parameters))


def _parse_entry(name: Any, entry: Any) -> Rule:
    """One ``name: rule`` or ``name: {rule, description}`` entry."""
    if isinstance(entry, dict):
        extra = sorted(set(entry) - {"rule", "description"})
        if extra or "rule" not in entry:
            raise RuleError(f"rule {name!r}: expected keys 'rule' and 'description', got {extra}")
        return parse_rule(name, entry["rule"], str(entry.get("description", "")))
    return parse_rule(name, entry)


def load_segments(path: Path) -> SegmentSpec:
    """Read and validate a YAML rule file; errors name the file and the rule."""
    path = Path(path)
    if not path.is_file():
        raise RuleError(f"{path}: no such rule file")
    try:
        document = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise RuleError(f"{path}: not valid YAML: {error}") from None
    return parse_segments(document, source=str(path))


def applicable_rules(
    rules: Iterable[Rule],
    columns: Iterable[str],
    is_known: Callable[[str], bool] = lambda name: False,
) -> list[Rule]:
    """The rules whose columns all exist; the others are skipped or are errors.

    A column the feature builder produces for some sources but not this one (``monetary`` on
    MovieLens) makes its rule inapplicable: skipped, with a warning. A column nobody produces
    is a mistake in the rule file and an error.

    Parameters
    ----------
    rules : iterable of Rule
    columns : iterable of str
        The feature columns available.
    is_known : callable
        Whether a column name is a feature of some source
        (``workbench.features.is_known_feature``).

    Raises
    ------
    RuleError
        Naming the rule, the unknown column and the closest available names.
    """
    columns = set(columns)
    kept = []
    for rule in rules:
        absent = sorted(rule.columns - columns)
        unknown = [name for name in absent if not is_known(name)]
        if unknown:
            close = difflib.get_close_matches(unknown[0], sorted(columns), n=3)
            hint = f"; did you mean {close}?" if close else ""
            raise RuleError(f"rule {rule.name!r}: unknown column {unknown[0]!r}{hint}")
        if absent:
            log.warning("rule %r skipped: this data set has no %s", rule.name, absent)
            continue
        kept.append(rule)
    return kept


def membership(features: pd.DataFrame, rules: Iterable[Rule]) -> pd.DataFrame:
    """The (user, tag) pairs of every rule, in rule order.

    Parameters
    ----------
    features : DataFrame of shape (n_users, n_features), indexed by ``user_id``
    rules : iterable of Rule

    Returns
    -------
    DataFrame of shape (n_memberships, 2)
        Columns ``user_id`` and ``tag``.
    """
    parts = []
    for rule in rules:
        members = evaluate_rule(rule, features)
        users = features.index[members.to_numpy()]
        parts.append(pd.DataFrame({"user_id": users.astype(str), "tag": rule.name}))
        log.info("segment %s: %d users", rule.name, len(users))
    if not parts:
        return pd.DataFrame({"user_id": pd.Series(dtype=str), "tag": pd.Series(dtype=str)})
    return pd.concat(parts, ignore_index=True)
