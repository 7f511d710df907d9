"""Excerpts and clamps: how much of an input a message may quote."""

from __future__ import annotations

from ml_service.bounded import clamp, excerpt


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
