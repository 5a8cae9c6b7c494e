"""The rule language: what it accepts, what it evaluates to, and what it refuses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.features import is_known_feature
from workbench.segments import rules
from workbench.segments.rules import RuleError, evaluate_rule, parse_rule

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_RULES = "experiments/segments/default.yaml"


@pytest.fixture
def features():
    return pd.DataFrame(
        {
            "rfm_score": [14.0, 9.0, 13.0, np.nan],
            "frequency": [5.0, 1.0, 3.0, 0.0],
            "monetary": [500.0, 20.0, 90.0, np.nan],
            "device_mobile": [0.9, 0.1, 0.6, 0.0],
            "age_band": ["25-34", "18-24", "25-34", None],
            "country": ["GB", "DE", "FR", None],
        },
        index=pd.Index(["a", "b", "c", "d"], name="user_id"),
    )


def members(expression: str, features: pd.DataFrame) -> list[str]:
    result = evaluate_rule(parse_rule("r", expression), features)
    return list(features.index[result.to_numpy()])


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("rfm_score >= 13", ["a", "c"]),
        ("rfm_score >= 13 and device_mobile > 0.7", ["a"]),
        ("rfm_score < 10 or country == 'FR'", ["b", "c"]),
        ("not rfm_score >= 13", ["b", "d"]),
        ("monetary / frequency > 25", ["a", "c"]),
        ("8 < rfm_score < 14", ["b", "c"]),
        ("age_band in ['25-34', '35-44']", ["a", "c"]),
        ("country not in ['GB']", ["b", "c"]),  # missing country is not "not GB"
        ("country != 'GB'", ["b", "c"]),
        ("-frequency <= -3", ["a", "c"]),
        ("True", ["a", "b", "c", "d"]),
    ],
)
def test_valid_rules_select_the_right_users(features, expression, expected):
    assert members(expression, features) == expected


def test_a_rule_knows_its_columns():
    rule = parse_rule("r", "rfm_score >= 13 and country in ['GB']")
    assert rule.columns == {"rfm_score", "country"}


@pytest.mark.parametrize(
    ("expression", "what"),
    [
        ("__import__('os').system('echo hacked')", "function calls"),
        ("open('/etc/passwd')", "function calls"),
        ("len(country) > 2", "function calls"),
        ("country.startswith('G')", "function calls"),
        ("country.str == 'G'", "attribute access"),
        ("rfm_score.__class__", "attribute access"),
        ("country[0] == 'G'", "indexing"),
        ("(lambda: 1)()", "function calls"),
        ("frequency ** 99999999", "powers"),
        ("[x for x in country]", "ListComp"),
        ("(x := 1)", "assignments"),
        ("b'bytes' == country", "not a number or a string"),
        ("__builtins__ == 1", "cannot start with '_'"),
        ("country in ['GB', frequency]", "may only hold literals"),
        ("country == ['GB']", "'in' takes a literal list"),
        ("country in frequency", "'in' takes a literal list"),
    ],
)
def test_forbidden_constructs_are_refused_naming_the_rule(expression, what):
    with pytest.raises(RuleError, match=r"rule 'bad'") as error:
        parse_rule("bad", expression)
    assert what in str(error.value)


def test_syntax_error_names_the_rule():
    with pytest.raises(RuleError, match=r"rule 'broken': syntax error"):
        parse_rule("broken", "rfm_score >= ")


def test_numbers_are_not_truth_values(features):
    with pytest.raises(RuleError, match="rule 'r'.*true/false"):
        evaluate_rule(parse_rule("r", "frequency and rfm_score > 1"), features)


@pytest.mark.parametrize(
    "expression", ["'a' * 999999999 == 'b'", "country * 1000000 == 'GB'", "country + 1 > 2"]
)
def test_arithmetic_on_text_is_refused(features, expression):
    with pytest.raises(RuleError, match="rule 'r'.*arithmetic needs numbers"):
        evaluate_rule(parse_rule("r", expression), features)


def test_comparing_a_string_with_a_number_names_the_rule(features):
    with pytest.raises(RuleError, match="rule 'r'"):
        evaluate_rule(parse_rule("r", "country > 3"), features)


def test_unknown_column_is_an_error_naming_rule_and_suggesting(features):
    rule = parse_rule("high_value", "rfm_scor >= 13")
    with pytest.raises(RuleError, match=r"rule 'high_value': unknown column 'rfm_scor'.*rfm_score"):
        rules.applicable_rules([rule], features.columns, is_known_feature)


def test_known_feature_the_data_set_lacks_skips_the_rule(features):
    kept = rules.applicable_rules(
        [parse_rule("carts", "abandoned_carts >= 1"), parse_rule("hv", "rfm_score >= 13")],
        features.columns,
        is_known_feature,
    )
    assert [rule.name for rule in kept] == ["hv"]


def test_membership_table(features):
    spec = rules.parse_segments(
        {"segments": {"hv": "rfm_score >= 13"}, "tags": {"mobile": "device_mobile >= 0.5"}}
    )
    table = rules.membership(features, spec.rules)
    assert list(table.columns) == ["user_id", "tag"]
    assert table.values.tolist() == [["a", "hv"], ["c", "hv"], ["a", "mobile"], ["c", "mobile"]]


def test_default_rule_file_is_valid():
    spec = rules.load_segments(ROOT / DEFAULT_RULES)
    assert len(spec.rules) >= 10 and spec.parameters["cart_window_days"] > 0
    assert all(is_known_feature(c) for rule in spec.rules for c in rule.columns)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("segments:\n  ok: rfm_score > 1\n  broken: rfm_score >=\n", r"rule 'broken': syntax"),
        ("segments:\n  sneaky: __import__('os')\n", r"rule 'sneaky': function calls"),
        ("segments:\n  bad_key: {rule: 'x > 1', when: now}\n", r"rule 'bad_key': expected keys"),
        ("segments:\n  Bad Name: x > 1\n", r"rule 'Bad Name': names are lower-case"),
        ("segments:\n  empty:\n", r"rule 'empty': the rule must be a non-empty string"),
        ("segments: [a, b]\n", "'segments' must be a mapping"),
        ("segment:\n  a: x > 1\n", r"unknown top-level key\(s\) \['segment'\]"),
        ("segments:\n  a: x > 1\ntags:\n  a: x > 2\n", "rule 'a' is defined twice"),
        ("segments: {a: 'x > 1'\n", "not valid YAML"),
    ],
)
def test_broken_rule_files_name_the_file_and_the_rule(tmp_path, text, message):
    path = tmp_path / "segments.yaml"
    path.write_text(text)
    with pytest.raises(RuleError, match=message) as error:
        rules.load_segments(path)
    assert str(path) in str(error.value)
