"""Shared by the benchmarks: append a dated section of results to a markdown file."""

from __future__ import annotations


def append_section(path: str, lines: list[str], echo: bool = True) -> None:
    """Append ``lines`` (one markdown section) to ``path``; print it too unless ``echo`` is off."""
    text = "\n".join(lines) + "\n"
    if echo:
        print(text)
    with open(path, "a") as fh:
        fh.write(text)
