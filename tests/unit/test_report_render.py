"""The report's two files come from one document: everything the markdown says, the HTML says,
and the inline marks become HTML without touching powers such as x0**2."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

from certify.report.render import _inline_html, render_html, render_markdown, report_blocks

COMMITTED = Path(__file__).resolve().parents[2] / "reports" / "paper-audit.json"


def _plain(text: str) -> str:
    """The text without marks and without whitespace (tags separate words differently)."""
    return re.sub(r"\s+", "", text.replace("**", "").replace("`", ""))


def test_every_text_of_the_markdown_is_in_the_html():
    doc = json.loads(COMMITTED.read_text())
    page = _plain(html.unescape(re.sub(r"<[^>]+>", "", render_html(doc))))
    texts = []
    for b in report_blocks(doc):
        if b[0] in ("h1", "h2", "p"):
            texts.append(b[1])
        elif b[0] == "ul":
            texts += b[1]
        elif b[0] == "table":
            texts += [str(c) for row in b[2] for c in row] + list(b[1])
        elif b[0] == "figure":
            texts.append(b[3])
    assert texts
    for t in texts:
        assert _plain(t) in page, t
        assert _plain(t) in _plain(render_markdown(doc)).replace("\\|", "|"), t


def test_inline_marks():
    assert _inline_html("**PROVED** on `x < 1`") == "<b>PROVED</b> on <code>x &lt; 1</code>"
    assert _inline_html("x0**2 + (3/2)**2") == "x0**2 + (3/2)**2"
    assert _inline_html("a <b> & c") == "a &lt;b&gt; &amp; c"


def test_a_changed_row_changes_both_files():
    doc = json.loads(COMMITTED.read_text())
    md, page = render_markdown(doc), render_html(doc)
    doc["results"][0]["verdict"] = "REFUTED"
    assert render_markdown(doc) != md and render_html(doc) != page


def test_html_has_the_summary_the_run_and_no_raw_backticks():
    doc = json.loads(COMMITTED.read_text())
    page = render_html(doc)
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    assert "`" not in text
    assert re.search(r"Summary: \d+ PROVED", text)
    for key in ("date", "commit", "cpu", "numpy_build", "os_kernel"):
        assert doc["host"][key] and str(doc["host"][key]) in text and str(doc["host"][key]) in render_markdown(doc)


def test_committed_figures_are_wide_enough_to_read():
    import matplotlib.pyplot as plt

    from certify.report.figures import FIGURES

    for name, _ in FIGURES:
        height, width = plt.imread(COMMITTED.parent / name).shape[:2]
        assert width >= 1000, (name, width)
