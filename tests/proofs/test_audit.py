"""certify audit: the committed report in reports/ matches a fresh run (staleness), the files
are complete, and --check notices a changed verdict."""

from __future__ import annotations

import json
import re
from pathlib import Path

from certify import audit
from certify.cli import main

REPORTS = Path(__file__).resolve().parents[2] / "reports"


def test_committed_audit_matches_a_fresh_run(fresh_audit):
    committed = json.loads((REPORTS / "paper-audit.json").read_text())
    fresh = audit.stable_view(fresh_audit[1])
    assert [tuple(r) for r in audit.stable_view(committed)] == fresh, \
        "reports/ is out of date: run `certify audit` and commit reports/"
    assert committed["prefix_length"] == fresh_audit[1]["prefix_length"]
    assert committed["depth"] == fresh_audit[1]["depth"]


def test_committed_markdown_and_html_show_every_verdict():
    committed = json.loads((REPORTS / "paper-audit.json").read_text())
    md = (REPORTS / "paper-audit.md").read_text()
    page = (REPORTS / "paper-audit.html").read_text()
    assert md == audit.render_markdown(committed)
    assert page == audit.render_html(committed)
    table = [line for line in md.splitlines() if line.startswith("| ") and "**" in line]
    assert len(table) == len(committed["results"])
    for r, line in zip(committed["results"], table):
        assert r["label"].replace("|", "\\\\|") in line and f"**{r['verdict']}" in line
    for name, _ in audit.FIGURES:
        assert (REPORTS / name).stat().st_size > 5000
        assert f"({name})" in md and f"src='{name}'" in page


def test_fresh_run_writes_every_file_and_records_tools(fresh_audit):
    out, doc = fresh_audit
    for name in ("paper-audit.md", "paper-audit.html", "paper-audit.json") + tuple(n for n, _ in audit.FIGURES):
        assert (out / name).is_file() and (out / name).stat().st_size > 0
    assert {"numpy", "sympy", "python-flint", "z3-solver", "matplotlib"} <= set(doc["tools"])
    kinds = {r["verdict"] for r in doc["results"]}
    assert {"PROVED", "VERIFIED ON RANGE", "REFUTED", "CONSISTENT", "NOT CHECKED"} == kinds
    # provenance is never blurred: every row says paper or derived
    assert {r["provenance"] for r in doc["results"]} == {"paper", "derived", "trap"}
    assert doc["error_map"]["verdict"] == "CERTIFIED"
    assert doc["error_map"]["grid_max"] <= doc["error_map"]["upper"]


def test_check_flag_detects_a_changed_verdict(fresh_audit, tmp_path, monkeypatch, capsys):
    _, doc = fresh_audit
    monkeypatch.setattr(audit, "run_audit", lambda out, progress=None: doc)
    (tmp_path / "paper-audit.json").write_text(json.dumps(doc))
    assert main(["audit", "--out", str(tmp_path), "--check"]) == 0
    assert "up to date" in capsys.readouterr().out
    tampered = json.loads(json.dumps(doc))
    row = next(r for r in tampered["results"] if r["verdict"] == "REFUTED")
    row["verdict"] = "PROVED"
    (tmp_path / "paper-audit.json").write_text(json.dumps(tampered))
    assert main(["audit", "--out", str(tmp_path), "--check"]) == 1
    assert re.search("OUT OF DATE: " + row["key"], capsys.readouterr().out)
    assert main(["audit", "--out", str(tmp_path / "missing"), "--check"]) == 2
