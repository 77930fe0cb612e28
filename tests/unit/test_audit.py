"""certify audit: the committed report in reports/ matches a fresh run (staleness), the files
are complete, and --check notices a changed verdict."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from certify.report import audit
from certify.report.figures import FIGURES
from certify.cli.main import main

#: A fresh audit run takes about 30 s: the whole module is in the slow tier (still run by the
#: default ``python -m pytest`` and by CI; ``-m "not slow"`` skips it).
pytestmark = pytest.mark.slow

REPORTS = Path(__file__).resolve().parents[2] / "reports"


def test_committed_audit_matches_a_fresh_run(fresh_audit):
    committed = json.loads((REPORTS / "paper-audit.json").read_text())
    diff = audit.compare_reports(committed, fresh_audit[1])
    assert not diff["changed"], ("reports/ is out of date: run `certify audit` and commit reports/\n"
                                 + "\n".join(diff["differences"]))
    fresh = audit.stable_view(fresh_audit[1])
    assert [tuple(r) for r in audit.stable_view(committed)] == fresh
    assert audit.table_view(committed) == audit.table_view(fresh_audit[1])


def test_committed_markdown_and_html_show_every_verdict():
    committed = json.loads((REPORTS / "paper-audit.json").read_text())
    md = (REPORTS / "paper-audit.md").read_text()
    page = (REPORTS / "paper-audit.html").read_text()
    assert md == audit.render_markdown(committed)
    assert page == audit.render_html(committed)
    lines = md.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| label | statement"))
    end = next(i for i in range(start, len(lines)) if not lines[i].startswith("|"))
    table = [line for line in lines[start + 2:end]]  # the results table: header and rule skipped
    assert len(table) == len(committed["results"])
    for r, line in zip(committed["results"], table):
        assert r["label"].replace("|", "\\\\|") in line and f"**{r['verdict']}" in line
    for name, _ in FIGURES:
        assert (REPORTS / name).stat().st_size > 5000
        assert f"({name})" in md and f"src='{name}'" in page


def test_fresh_run_writes_every_file_and_records_tools(fresh_audit):
    out, doc = fresh_audit
    for name in ("paper-audit.md", "paper-audit.html", "paper-audit.json") + tuple(n for n, _ in FIGURES):
        assert (out / name).is_file() and (out / name).stat().st_size > 0
    assert {"numpy", "sympy", "python-flint", "z3-solver", "matplotlib"} <= set(doc["tools"])
    kinds = {r["verdict"] for r in doc["results"]}
    assert {"PROVED", "VERIFIED ON RANGE", "REFUTED", "IMPLIED", "CONSISTENT", "NOT CHECKED"} == kinds
    # provenance is never blurred: every row says paper or derived
    assert {r["provenance"] for r in doc["results"]} == {"paper", "paper, statement reconstructed", "derived", "trap"}
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
    out = capsys.readouterr().out
    assert re.search("OUT OF DATE: " + row["key"], out)
    # the committed file said PROVED, the fresh run says REFUTED: old -> new, with the evidence
    assert f"{row['key']} ({row['label']}): verdict PROVED -> REFUTED" in out, out
    assert main(["audit", "--out", str(tmp_path / "missing"), "--check"]) == 2
    (tmp_path / "paper-audit.json").write_text(json.dumps({"results": 3}))
    assert main(["audit", "--out", str(tmp_path), "--check"]) == 2


def test_check_names_statement_table_and_evidence_differences(fresh_audit, tmp_path, monkeypatch, capsys):
    _, doc = fresh_audit
    monkeypatch.setattr(audit, "run_audit", lambda out, progress=None: doc)
    old = json.loads(json.dumps(doc))
    a, b, c = old["results"][1], old["results"][2], old["results"][3]
    a["statement"] = a["statement"] + " (edited)"
    b["evidence"] = "some older evidence"
    old["prefix_length"][0]["smallest_certified"] = 999
    removed = old["results"].pop(4)
    old["results"].append(dict(removed, key="gone", label="a result no longer produced"))
    diff = audit.compare_reports(old, doc)
    assert set(diff["changed"]) == {a["key"], removed["key"], "gone", "prefix_length"}
    text = "\n".join(diff["differences"])
    assert f"{a['key']} ({a['label']}): statement changed (verdict {a['verdict']} unchanged)" in text
    assert "(edited)" in text
    assert f"{removed['key']} ({removed['label']}): new result" in text
    assert "gone (a result no longer produced): no longer produced" in text
    assert "prefix-length table, row 1:" in text and "999 ->" in text
    # evidence alone: listed, not a change of verdict
    assert b["key"] not in diff["changed"] and c["key"] not in diff["changed"]
    assert any(line.startswith(b["key"]) and "some older evidence" in line for line in diff["evidence"])
    # the command prints every line and exits 0 when only evidence differs
    only_evidence = json.loads(json.dumps(doc))
    only_evidence["results"][2]["evidence"] = "some older evidence"
    only_evidence["results"][2]["seconds"] = 1e6  # times never count
    (tmp_path / "paper-audit.json").write_text(json.dumps(only_evidence))
    assert main(["audit", "--out", str(tmp_path), "--check"]) == 0
    out = capsys.readouterr().out
    assert "up to date" in out and "some older evidence" in out


def test_extrapolated_lengths_compare_as_printed(fresh_audit):
    _, doc = fresh_audit
    moved = json.loads(json.dumps(doc))
    for r in moved["prefix_length"]:
        r["paper_route"] = r["paper_route"] * (1 + 4e-16)  # last bits of an extrapolated estimate
    assert not audit.compare_reports(moved, doc)["changed"]
