"""certify construct-seq and certify check on sequence certificates (exit codes, outputs, errors)."""

from __future__ import annotations

import json

from certify.cli.main import main


def test_elementwise_cli_writes_a_checkable_certificate(tmp_path, capsys):
    prob, cert = tmp_path / "seq.json", tmp_path / "seq.cert.json"
    code = main(["construct-seq", "elementwise", "--target", "x0*x1", "--sphere-dim", "1", "--epsilon", "0.1",
                 "--max-length", "16", "-o", str(prob), "--certificate", str(cert), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["verdict"] == "CERTIFIED"
    assert json.loads(prob.read_text())["sequence"] == {"max_length": 16, "causal": False}
    assert main(["check", str(cert), "--problem", str(prob)]) == 0
    assert "VALID" in capsys.readouterr().out
    # a tighter epsilon than the construction can meet: REFUTED, exit 1, the problem still written
    code = main(["construct-seq", "elementwise", "--target", "x0", "--sphere-dim", "1", "--epsilon", "0.2",
                 "--lam", "5", "--prefix-length", "16", "--max-length", "100", "-o", str(prob), "--json"])
    assert code == 1 and json.loads(capsys.readouterr().out)["verdict"] == "REFUTED"


def test_ka_cli_and_check(tmp_path, capsys):
    out_path = tmp_path / "ka.json"
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"format": "certify.seqmap/1", "length": 2, "epsilon": 0.2,
                                "terms": [{"inner": ["x0", "x1"], "outer": "s"}]}))
    assert main(["construct-seq", "ka", "--spec", str(spec), "-o", str(out_path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["verdict"] == "CERTIFIED" and out["architecture"]["layers"] == 3
    assert main(["check", str(out_path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] and report["certificates"][0]["upper"] <= 0.2
    doc = json.loads(out_path.read_text())
    doc["bound"] = doc["bound"] / 2
    out_path.write_text(json.dumps(doc))
    assert main(["check", str(out_path)]) == 1
    assert "bound" in capsys.readouterr().out


def test_construct_seq_bad_input(tmp_path, capsys):
    o = str(tmp_path / "x.json")
    cases = [
        (["construct-seq"], "KIND"),
        (["construct-seq", "ka", "--example", "product", "--length", "2", "-o", o], "--epsilon"),
        (["construct-seq", "ka", "--example", "nope", "--length", "2", "--epsilon", "0.1", "-o", o], "--example"),
        (["construct-seq", "ka", "--example", "product", "--length", "3", "--epsilon", "0.1", "--torus", "-o", o],
         "--torus"),
        (["construct-seq", "elementwise", "--target", "x0", "--sphere-dim", "1", "--epsilon", "0.1",
          "--max-length", "0", "-o", o], "--max-length"),
        (["construct-seq", "elementwise", "--target", "__import__('os')", "--sphere-dim", "1", "--epsilon", "0.1",
          "--max-length", "2", "-o", o], "--target"),
    ]
    for argv, field in cases:
        assert main(argv) == 2, argv
        assert field in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()
