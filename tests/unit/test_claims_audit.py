"""certify audit CLAIMS.toml: the claims-file audit round-trips, its --check detects a changed
verdict or expectation, a verdict other than the expected one is a finding (exit 1), bad files
are refused naming the field, and the committed example report is up to date."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from certify.cli.main import main
from certify.errors import InputError
from certify.report.claims_audit import load_claims_file

ROOT = Path(__file__).resolve().parents[2]

SMALL = '''title = "Two small bounds"
authors = ["A. Author"]
source = "Somewhere (2020)"

[[claim]]
label = "sine below the identity"
statement = "forall x in [0, 1]: sin(x) <= x"
provenance = "folklore"
expected = "VERIFIED"

[[claim]]
label = "a false tightening"
key = "tight"
statement = "forall x in [0, 1]: sin(x) <= x - 1/10**3"
provenance = "trap"
expected = "REFUTED"
notes = "false at every x near 0"
'''


def write(tmp_path, text, name="small.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_round_trip_and_check(tmp_path, capsys):
    path = write(tmp_path, SMALL)
    out = tmp_path / "out"
    assert main(["audit", str(path), "--out", str(out)]) == 0
    doc = json.loads((out / "small-audit.json").read_text())
    assert [r["verdict"] for r in doc["results"]] == ["VERIFIED ON RANGE", "REFUTED"]
    assert [r["key"] for r in doc["results"]] == ["sine_below_the_identity", "tight"]
    assert doc["results"][1]["witness"] and doc["findings"][0]["kind"] == "refuted as expected"
    for suffix in ("md", "html"):
        text = (out / f"small-audit.{suffix}").read_text()
        assert "Two small bounds" in text and "sin(x) &lt;= x" in text if suffix == "html" else "sin(x) <= x" in text
    capsys.readouterr()
    assert main(["audit", str(path), "--out", str(out), "--check"]) == 0
    assert "up to date" in capsys.readouterr().out
    # a changed verdict in the committed report is detected
    doc["results"][0]["verdict"] = "UNDECIDED"
    (out / "small-audit.json").write_text(json.dumps(doc))
    assert main(["audit", str(path), "--out", str(out), "--check"]) == 1
    assert "verdict UNDECIDED -> VERIFIED ON RANGE" in capsys.readouterr().out


def test_changed_expectation_is_detected(tmp_path, capsys):
    path = write(tmp_path, SMALL)
    out = tmp_path / "out"
    assert main(["audit", str(path), "--out", str(out)]) == 0
    write(tmp_path, SMALL.replace('expected = "REFUTED"', 'expected = "UNDECIDED"'))
    capsys.readouterr()
    assert main(["audit", str(path), "--out", str(out), "--check"]) == 1
    assert "expected REFUTED -> UNDECIDED" in capsys.readouterr().out


def test_unexpected_verdict_is_a_finding_and_exit_1(tmp_path):
    path = write(tmp_path, SMALL.replace('expected = "REFUTED"', 'expected = "VERIFIED ON RANGE"'))
    out = tmp_path / "out"
    assert main(["audit", str(path), "--out", str(out)]) == 1
    doc = json.loads((out / "small-audit.json").read_text())
    assert [f["key"] for f in doc["findings"] if f["kind"] == "unexpected verdict"] == ["tight"]
    assert "expected VERIFIED ON RANGE, got REFUTED" in (out / "small-audit.md").read_text()


@pytest.mark.parametrize("change, field", [
    (lambda s: s + "\ncolour = 1\n", "colour"),
    (lambda s: s.replace('notes = "false', 'note = "false'), "note"),
    (lambda s: s.replace('title = "Two small bounds"', ""), "title"),
    (lambda s: s.replace('expected = "REFUTED"', 'expected = "TRUE"'), "expected"),
    (lambda s: s.replace('key = "tight"', 'key = "sine_below_the_identity"'), "key"),
    (lambda s: s.replace("sin(x) <= x - 1/10**3", "__import__('os') <= 1"), "statement"),
    (lambda s: s.replace("sin(x) <= x - 1/10**3", "log(x - 2) <= 1"), "statement"),
    (lambda s: s.replace('provenance = "trap"', ""), "provenance"),
    (lambda s: s + "\nmax_boxes = -3\n", "max_boxes"),
    (lambda s: s.replace("[[claim]]", "[claim]", 1), "claim"),
    (lambda s: s + "\n[[[", "TOML"),
])
def test_bad_claims_files_are_refused(tmp_path, capsys, change, field):
    path = write(tmp_path, change(SMALL))
    with pytest.raises(InputError) as err:
        load_claims_file(path)
    assert field in str(err.value) or field in err.value.field
    out = tmp_path / "out"
    assert main(["audit", str(path), "--out", str(out)]) == 2
    assert not out.exists()


def test_committed_example_is_up_to_date(capsys):
    example = ROOT / "reports" / "claims" / "bessel-ratios.toml"
    assert main(["audit", str(example), "--out", str(example.parent), "--check"]) == 0, capsys.readouterr().out


def test_tampered_committed_report_is_bad_input_or_compared(tmp_path, capsys):
    """Every field of the committed JSON replaced by a value of another type: --check
    either compares it or refuses the file naming --out; never an internal error."""
    from certify.report.audit import compare_reports, read_committed

    path = write(tmp_path, SMALL)
    out = tmp_path / "out"
    assert main(["audit", str(path), "--out", str(out)]) == 0
    report = out / "small-audit.json"
    good = json.loads(report.read_text())
    odd = [None, 3, 1.5, [], ["a"], {}, {"x": 1}, "text", True]
    cases = [("row", k, v) for k in ("key", "label", "verdict", "evidence", "statement", "box", "witness")
             for v in odd]
    cases += [("doc", k, v) for k in ("results", "prefix_length", "depth", "tuned", "error_map") for v in odd]
    refused = compared = 0
    for where, k, v in cases:
        doc = json.loads(json.dumps(good))
        (doc["results"][0] if where == "row" else doc)[k] = v
        report.write_text(json.dumps(doc))
        try:
            old = read_committed(report, "certify audit")
        except InputError as exc:
            assert exc.field == "--out"
            refused += 1
            continue
        assert isinstance(compare_reports(old, good)["changed"], list)
        compared += 1
    assert refused and compared
    # end to end: a list-valued key is bad input (exit 2), not an internal error
    doc = json.loads(json.dumps(good))
    doc["results"][0]["key"] = ["a", "b"]
    report.write_text(json.dumps(doc))
    capsys.readouterr()
    assert main(["audit", str(path), "--out", str(out), "--check"]) == 2
    assert "--out" in capsys.readouterr().err
