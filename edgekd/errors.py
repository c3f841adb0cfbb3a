"""Errors a user can cause. The CLI prints them as one paragraph and exits with `exit_code`."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class EdgeKDError(Exception):
    """Base class: a message that says what went wrong and what to do.

    Messages quote what the user gave (names, keys, paths), which may hold newlines or
    other control characters; `str()` escapes them, so a message is always one paragraph.
    """

    exit_code = 2

    def __str__(self) -> str:
        return one_line(super().__str__())


def one_line(text: str) -> str:
    """`text` with every non-printable character (newline, tab, NUL, ...) escaped."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class ConfigError(EdgeKDError):
    """A pipeline or target YAML is malformed, misspelt or inconsistent."""


class DataError(EdgeKDError):
    """A dataset is missing, empty or inconsistent."""


class TrainingError(EdgeKDError):
    """Training diverged (a non-finite loss), or a model's weights or outputs are not finite."""


class CheckpointError(EdgeKDError):
    """A checkpoint cannot be read safely or does not fit the model."""


class ExportMismatchError(EdgeKDError):
    """The exported model disagrees with PyTorch beyond the stated tolerance."""


class ArtifactError(EdgeKDError):
    """A compiled artifact, ONNX file or bundle is missing, corrupt or fails verification."""


class RuntimeMissingError(EdgeKDError):
    """An optional runtime (OpenVINO, ExecuTorch, TensorRT, ...) is not installed."""


class UnknownNameError(EdgeKDError):
    """A registry lookup with a name that is not registered."""

    def __init__(self, kind: str, name: str, choices: Iterable[str]):
        self.kind, self.name, self.choices = kind, name, sorted(choices)
        super().__init__(
            f"Unknown {kind} '{name}'. Valid {kind}s: {format_choices(name, self.choices)}."
        )


def closest_first(word: str, choices: Iterable[str]) -> list[str]:
    """Choices ordered with the closest matches to `word` first, then the rest sorted."""
    choices = sorted(set(choices))
    close = difflib.get_close_matches(word, choices, n=3, cutoff=0.5)
    return close + [c for c in choices if c not in close]


def format_choices(word: str, choices: Iterable[str]) -> str:
    ordered = closest_first(word, choices)
    close = difflib.get_close_matches(word, ordered, n=3, cutoff=0.5)
    text = ", ".join(ordered) if ordered else "(none)"
    if close:
        text = f"{text} (did you mean '{close[0]}'?)"
    return text


class OutputError(EdgeKDError):
    """An output cannot be written: a full disk, a read-only or existing path, a folder."""


class LimitError(EdgeKDError):
    """A request exceeds what this machine has (CPUs, memory) or a bound on untrusted input."""
