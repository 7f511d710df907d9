"""Excerpts and clamps: how much of an input a message may quote."""

from __future__ import annotations

import json

import pytest

from ml_service.core.bounded import JSONLimitError, clamp, excerpt, loads


def test_excerpt_of_a_long_text_says_how_long_it_was():
    text = excerpt("A" * 1_500_000)
    assert len(text) < 120 and "1500000 characters" in text


def test_excerpt_of_nested_and_large_containers_is_short():
    deep: list = []
    for _ in range(5000):
        deep = [deep]
    for value in ({"k": ["A" * 10**6] * 1000}, list(range(10**5)), deep, b"\x00" * 10**6, 10**4000):
        assert len(excerpt(value)) <= 100


def test_excerpt_survives_a_hostile_repr():
    class Hostile:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    assert excerpt(Hostile()).startswith("<Hostile")


def test_short_values_are_quoted_whole():
    assert excerpt("cam.webm") == "'cam.webm'" and excerpt(12) == "12"


def test_clamp_marks_what_it_cut():
    assert clamp("x" * 10, 20) == "x" * 10
    assert clamp("x" * 30, 20) == "x" * 20 + "... [10 more characters cut]"


@pytest.mark.parametrize("text, limit", [
    ("[" * 33 + "]" * 33, "nested deeper than 32"),
    ('{"a": ' * 40 + "1" + "}" * 40, "nested deeper than 32"),
    ("[" * 10_000, "nested deeper than 32"),
    ('"' + "x" * 1_000_001 + '"', "over the 1000000-character limit"),
])
def test_loads_refuses_json_over_its_limits_before_parsing(text, limit):
    with pytest.raises(JSONLimitError, match=limit):
        loads(text, "body")


@pytest.mark.parametrize("text", ["NaN", "[Infinity]", '{"a": -Infinity}', "1e999", "[-1e400]", "{"])
def test_loads_refuses_what_is_not_strict_json(text):
    with pytest.raises(ValueError):
        loads(text, "body")


def test_loads_counts_only_brackets_outside_strings():
    text = json.dumps({"a": "[" * 100 + '\\"{{{', "b": [[["x]]]]"]]]})
    assert loads(text, "body")["b"] == [[["x]]]]"]]]
    assert loads("[" * 32 + "]" * 32, "body") is not None
