"""The per-exam options the screencast analyser reads from ``submission["options"]``, with defaults.

Options are shared by every modality of an exam, so keys the analyser does not know are ignored;
a known key with a bad value is an error naming the key (all problems are reported together).
The table (also in README.md):

    key                         default  meaning
    screen_sample_fps           2        frames analysed per second of recording
    screen_change_threshold     24       grey levels (at 1/4 size) that count as a change
    screen_max_width            1920     wider recordings are analysed scaled down to this
    screen_ocr                  true     false: only blank / frozen / resolution checks
    screen_ocr_settle_s         2.0      a changed region is read once stable this long
    screen_ocr_force_s          8.0      ... or once it has kept changing this long
    screen_ocr_languages        rus+eng  tesseract languages ("+"-joined; Debian tesseract-ocr-<lang>)
    screen_window_min_share     0.15     a window raised over this share of the screen is a switch
    blank_screen_min_s          2.0      shortest reported blank screen
    blank_screen_max_std        4.0      grey-level spread under which a frame is blank
    frozen_screen_min_s         30.0     shortest reported unchanged screen
    resolution_change_min_s     1.0      shortest reported change of the shared area
    window_switch_min_s         1.0      shortest reported stay in another window
    forbidden_merge_gap_s       2.0      matches closer than this are one violation
    deny_list                   built in list of terms, or {category: [terms]}; replaces the default
    deny_list_extra             []       terms added to the deny-list (category "custom")
    allow_list                  []       allowed sites/apps/titles: they lift deny terms they
                                         cover, and any other window title is forbidden content
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from handlers.screencast.matching import DEFAULT_DENY_LIST

__all__ = ["Options", "OptionsError"]

_NUMBERS = {
    "screen_sample_fps": ("sample_fps", 0.1, 30.0),
    "screen_change_threshold": ("change_threshold", 1, 255),
    "screen_max_width": ("max_width", 160, 7680),
    "screen_ocr_settle_s": ("settle_s", 0.0, 60.0),
    "screen_ocr_force_s": ("force_s", 0.5, 3600.0),
    "screen_window_min_share": ("window_min_share", 0.02, 1.0),
    "blank_screen_min_s": ("blank_min_s", 0.0, 86400.0),
    "blank_screen_max_std": ("blank_max_std", 0.0, 128.0),
    "frozen_screen_min_s": ("frozen_min_s", 0.5, 86400.0),
    "resolution_change_min_s": ("resolution_min_s", 0.0, 86400.0),
    "window_switch_min_s": ("switch_min_s", 0.0, 86400.0),
    "forbidden_merge_gap_s": ("merge_gap_s", 0.0, 3600.0),
}


_LANGUAGES = re.compile(r"^[a-z_]{3,16}(\+[a-z_]{3,16}){0,4}$")


class OptionsError(ValueError):
    """Known options with bad values; ``problems`` names each one."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("bad screencast options: " + "; ".join(problems))


@dataclass(frozen=True)
class Options:
    """Thresholds and lists for one analysis (see the module docstring for the keys)."""

    sample_fps: float = 2.0
    change_threshold: int = 24
    max_width: int = 1920
    ocr: bool = True
    settle_s: float = 2.0
    force_s: float = 8.0
    languages: str = "rus+eng"
    window_min_share: float = 0.15
    blank_min_s: float = 2.0
    blank_max_std: float = 4.0
    frozen_min_s: float = 30.0
    resolution_min_s: float = 1.0
    switch_min_s: float = 1.0
    merge_gap_s: float = 2.0
    deny_list: dict[str, list[str]] = field(default_factory=lambda: {k: list(v) for k, v in DEFAULT_DENY_LIST.items()})
    allow_list: list[str] = field(default_factory=list)

    @classmethod
    def from_submission(cls, options: Any) -> Options:
        """Read ``submission["options"]``; raise :class:`OptionsError` listing every bad value."""
        if options is None:
            return cls()
        if not isinstance(options, Mapping):
            raise OptionsError([f"options must be a JSON object, not {type(options).__name__}"])
        values: dict[str, Any] = {}
        problems: list[str] = []
        for key, (name, low, high) in _NUMBERS.items():
            if key in options:
                value = options[key]
                integer = isinstance(cls.__dataclass_fields__[name].default, int)
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
                    problems.append(f"{key} must be a number from {low} to {high}, not {value!r}")
                else:
                    values[name] = int(value) if integer else float(value)
        if "screen_ocr" in options:
            if isinstance(options["screen_ocr"], bool):
                values["ocr"] = options["screen_ocr"]
            else:
                problems.append(f"screen_ocr must be true or false, not {options['screen_ocr']!r}")
        if "screen_ocr_languages" in options:
            value = options["screen_ocr_languages"]
            if isinstance(value, str) and _LANGUAGES.match(value):
                values["languages"] = value
            else:
                problems.append(f"screen_ocr_languages must be tesseract languages joined by '+', not {value!r}")
        deny = _deny_list(options, problems)
        if deny is not None:
            values["deny_list"] = deny
        allow = _strings(options, "allow_list", problems)
        if allow is not None:
            values["allow_list"] = allow
        if problems:
            raise OptionsError(problems)
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        """The values used, for the result's ``media`` facts (lists summarised)."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("deny_list", "allow_list")}
        out["deny_terms"] = sum(len(v) for v in self.deny_list.values())
        out["allow_list"] = list(self.allow_list)
        return out


def _strings(options: Mapping[str, Any], key: str, problems: list[str]) -> list[str] | None:
    if key not in options:
        return None
    value = options[key]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        problems.append(f"{key} must be a list of non-empty strings, not {value!r}")
        return None
    return list(value)


def _deny_list(options: Mapping[str, Any], problems: list[str]) -> dict[str, list[str]] | None:
    deny = None
    if "deny_list" in options:
        value = options["deny_list"]
        if isinstance(value, Mapping):
            deny = {}
            for category, terms in value.items():
                checked = _strings({"deny_list": terms}, "deny_list", problems)
                deny[str(category)] = checked or []
        else:
            checked = _strings(options, "deny_list", problems)
            deny = {"custom": checked} if checked is not None else None
    extra = _strings(options, "deny_list_extra", problems)
    if extra:
        deny = deny if deny is not None else {k: list(v) for k, v in DEFAULT_DENY_LIST.items()}
        deny["custom"] = [*deny.get("custom", []), *extra]
    return deny
