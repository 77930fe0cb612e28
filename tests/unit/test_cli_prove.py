"""``certify prove`` and ``certify check``: exit codes, outputs, the pytest fixture."""

from __future__ import annotations

import json

import pytest

from certify.cli.main import main
from certify.formats.jsonio import write_json_atomic

from tests.conftest import circle_problem


@pytest.fixture
def files(tmp_path):
    good = tmp_path / "good.json"
    bad = tmp_path / "bad.json"
    write_json_atomic(good, circle_problem(eps=0.06).to_json())
    write_json_atomic(bad, circle_problem(eps=0.02).to_json())
    return tmp_path, good, bad


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_prove_exit_codes_and_certificates(files, capsys):
    d, good, bad = files
    code, out, _ = run(capsys, "prove", good, "-o", d / "good.cert.json")
    assert code == 0 and "CERTIFIED" in out and (d / "good.cert.json").exists()
    code, out, _ = run(capsys, "prove", bad, "-o", d / "bad.cert.json", "--json")
    payload = json.loads(out)
    assert code == 1 and payload["verdict"] == "REFUTED" and payload["witness"]["lower"] > payload["epsilon"]
    code, out, _ = run(capsys, "prove", good, "--max-cells", "3", "-o", d / "u.json", "--json")
    payload = json.loads(out)
    assert code == 3 and payload["verdict"] == "UNDECIDED" and payload["certificate"] is None
    assert not (d / "u.json").exists()
    assert payload["lower"] > 0 and payload["reason"]


def test_prove_accuracy_reports_the_sup(files, capsys):
    d, good, _ = files
    code, out, _ = run(capsys, "prove", good, "--accuracy", "0.01", "--json")
    p = json.loads(out)
    assert code == 0 and p["upper"] / p["lower"] - 1 < 0.01


@pytest.mark.parametrize("argv,field", [
    (["prove", "missing.json"], "problem"),
    (["prove", "{good}", "--max-cells", "0"], "--max-cells"),
    (["prove", "{good}", "--accuracy", "-1"], "--accuracy"),
    (["prove", "{good}", "--time-limit", "0"], "--time-limit"),
    (["prove", "{good}", "-o", "nowhere/x.json"], "-o"),
    (["check", "missing.cert.json"], "certificate"),
])
def test_prove_and_check_bad_input(files, capsys, argv, field):
    d, good, _ = files
    argv = [a.replace("{good}", str(good)) for a in argv]
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == "" and field in err and err.count("\n") == 1


def test_check_files_folders_and_tampering(files, capsys):
    d, good, bad = files
    run(capsys, "prove", good, "-o", d / "certs" / "x.json") if (d / "certs").mkdir() is None else None
    run(capsys, "prove", bad, "-o", d / "certs" / "y.json")
    code, out, _ = run(capsys, "check", d / "certs" / "x.json", "--problem", good)
    assert code == 0 and out.startswith("VALID")
    code, out, _ = run(capsys, "check", d / "certs", "--json")
    rep = json.loads(out)
    assert code == 0 and rep["valid"] and len(rep["certificates"]) == 2
    doc = json.loads((d / "certs" / "x.json").read_text())
    doc["epsilon"] = doc["epsilon"] / 2
    (d / "certs" / "x.json").write_text(json.dumps(doc))
    code, out, _ = run(capsys, "check", d / "certs")
    assert code == 1 and "INVALID" in out and "epsilon" in out
    code, out, _ = run(capsys, "check", d / "certs" / "y.json", "--problem", good)
    assert code == 1
    (d / "certs" / "z.json").write_text("{not json")
    code, _, err = run(capsys, "check", d / "certs" / "z.json")
    assert code == 2 and "certificate" in err


def test_pytest_fixture(files, capsys, certify_certificate):
    d, good, bad = files
    run(capsys, "prove", good, "-o", d / "g.cert.json")
    run(capsys, "prove", bad, "-o", d / "b.cert.json")
    rep = certify_certificate(d / "g.cert.json", problem=good)
    assert rep.upper <= 0.06
    certify_certificate(d / "b.cert.json", verdict="REFUTED")
    with pytest.raises(pytest.fail.Exception):
        certify_certificate(d / "b.cert.json")


def test_strict_check_agrees(files, capsys):
    d, good, _ = files
    run(capsys, "prove", good, "-o", d / "g.cert.json")
    code, out, _ = run(capsys, "check", d / "g.cert.json", "--strict", "--json")
    assert code == 0 and json.loads(out)["strict"]
