"""The command line: exit codes, one-line errors naming the field, no partial output."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from certify.cli.main import main
from tests.conftest import unit_points

HOSTILE = "__import__('os').system('touch PWNED')"


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def problem_file(tmp_path, capsys):
    path = tmp_path / "p.json"
    code, _, _ = run(capsys, "construct", "--target", "x0*x1", "--sphere-dim", "2", "--epsilon", "0.4",
                     "--lipschitz", "1", "-o", str(path))
    assert code == 0 and path.exists()
    return path


def test_construct_writes_a_valid_problem(problem_file):
    doc = json.loads(problem_file.read_text())
    assert doc["format"] == "certify.problem/1" and doc["meta"]["method"] == "net"


def test_construct_json_output(tmp_path, capsys):
    code, out, _ = run(capsys, "construct", "--target", "x0", "--target", "x1", "--sphere-dim", "1",
                       "--epsilon", "0.5", "--lipschitz", "1", "--method", "vmf", "--head", "softmax",
                       "--json", "-o", str(tmp_path / "v.json"))
    payload = json.loads(out)
    assert code == 0 and payload["method"] == "vmf" and payload["prefix_length"] >= 1


def test_hostile_target_creates_no_file_and_exits_2(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "construct", "--target", HOSTILE, "--sphere-dim", "2",
                         "--epsilon", "0.1", "-o", "out.json")
    assert code == 2 and "--target[0]" in err and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_hostile_target_inside_a_problem_file(tmp_path, capsys, monkeypatch, valid_doc):
    monkeypatch.chdir(tmp_path)
    valid_doc["target"][1] = HOSTILE
    (tmp_path / "p.json").write_text(json.dumps(valid_doc))
    code, _, err = run(capsys, "estimate", "p.json")
    assert code == 2 and "target[1]" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.json"]


def test_estimate_is_labelled_non_rigorous(problem_file, capsys):
    code, out, _ = run(capsys, "estimate", str(problem_file), "--samples", "2000")
    assert code == 0 and "NON-RIGOROUS" in out
    code, out, _ = run(capsys, "estimate", str(problem_file), "--samples", "2000", "--json")
    payload = json.loads(out)
    assert payload["rigorous"] is False and payload["value"] <= 0.4 and len(payload["argmax"]) == 3


def test_eval_writes_outputs(problem_file, tmp_path, capsys):
    X = unit_points(2, 7)
    np.save(tmp_path / "X.npy", X)
    code, _, _ = run(capsys, "eval", str(problem_file), "--points", str(tmp_path / "X.npy"),
                     "--out", str(tmp_path / "Y.npy"))
    Y = np.load(tmp_path / "Y.npy")
    assert code == 0 and Y.shape == (7, 1)


@pytest.mark.parametrize("make,fragment", [
    (lambda X: X * (1 + 2e-9), "off the unit sphere"),
    (lambda X: X[:, :2], "expected shape"),
    (lambda X: np.where(np.arange(X.size).reshape(X.shape) == 4, np.nan, X), "NaN"),
    (lambda X: X.astype(object), "pickles"),
    (lambda X: X.astype(str), "numeric"),
    (lambda X: X[0], "expected shape"),
])
def test_eval_refuses_bad_points_without_output(problem_file, tmp_path, capsys, make, fragment):
    np.save(tmp_path / "X.npy", make(unit_points(2, 5)), allow_pickle=True)
    code, _, err = run(capsys, "eval", str(problem_file), "--points", str(tmp_path / "X.npy"),
                       "--out", str(tmp_path / "Y.npy"))
    assert code == 2 and "--points" in err and fragment in err, err
    assert not (tmp_path / "Y.npy").exists()


def test_eval_accepts_points_within_the_tolerance(problem_file, tmp_path, capsys):
    np.save(tmp_path / "X.npy", unit_points(2, 5) * (1 + 5e-10))
    code, _, _ = run(capsys, "eval", str(problem_file), "--points", str(tmp_path / "X.npy"),
                     "--out", str(tmp_path / "Y.npy"))
    assert code == 0


@pytest.mark.parametrize("argv,field", [
    (["construct", "--target", "x0", "--sphere-dim", "0", "--epsilon", "0.1", "-o", "o.json"], "--sphere-dim"),
    (["construct", "--target", "x0", "--sphere-dim", "1", "--epsilon", "-1", "-o", "o.json"], "--epsilon"),
    (["construct", "--target", "x0", "--sphere-dim", "1", "--epsilon", "nan", "-o", "o.json"], "--epsilon"),
    (["construct", "--target", "x0", "--sphere-dim", "1", "--epsilon", "0.1", "--lam", "0", "-o", "o.json"], "--lam"),
    (["construct", "--target", "x0", "--sphere-dim", "1", "--epsilon", "0.1", "--lipschitz", "inf", "-o", "o.json"], "--lipschitz"),
    (["construct", "--target", "x0", "--sphere-dim", "1", "--epsilon", "0.1", "--prefix-length", "0", "-o", "o.json"], "--prefix-length"),
    (["construct", "--target", "x2", "--sphere-dim", "1", "--epsilon", "0.1", "-o", "o.json"], "--target[0]"),
    (["construct", "--target", "x0", "--sphere-dim", "1", "--epsilon", "0.1", "-o", "nodir/o.json"], "-o"),
    (["estimate", "absent.json"], "problem file"),
    (["estimate", "absent.json", "--samples", "0"], "--samples"),
])
def test_bad_arguments_exit_2_naming_the_field(tmp_path, capsys, monkeypatch, argv, field):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, *argv)
    assert code == 2 and field in err, err
    assert not (tmp_path / "o.json").exists()


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["construct"])
    assert info.value.code == 2
    assert main([]) == 2


def test_entry_point_runs_as_a_program(tmp_path):
    res = subprocess.run([sys.executable, "-m", "certify.cli.main", "construct", "--target", "x0",
                          "--sphere-dim", "1", "--epsilon", "0.1", "--lam", "-3", "-o", str(tmp_path / "o.json")],
                         capture_output=True, text=True)
    assert res.returncode == 2 and "--lam" in res.stderr
    res = subprocess.run([sys.executable, "-m", "certify.cli.main", "--help"], capture_output=True, text=True)
    assert res.returncode == 0 and "exit codes" in res.stdout and "example" in res.stdout


@pytest.mark.slow  # the demo ends with the whole audit: a few minutes
def test_demo_runs_without_arguments(capsys, tmp_path):
    code, out, _ = run(capsys, "demo", "--json", "--out-dir", str(tmp_path), "--audit-out", str(tmp_path / "audit"))
    payload = json.loads(out)
    assert code == 0 and payload["estimates_rigorous"] is False
    built = [r for r in payload["rows"] if r["built"]]
    assert {r["method"] for r in built} == {"net", "vmf"}
    assert all(r["estimated_error"] <= r["epsilon"] for r in built)
    assert all((tmp_path / f"demo-{r['case']}.json").exists() for r in built)
    assert (tmp_path / "audit" / "paper-audit.json").exists()  # never the repository's reports/


def test_demo_without_json_runs_the_paper_audit_with_every_option_defaulted(capsys, tmp_path, monkeypatch):
    """The demo's text path hands over to ``certify audit``'s own runner (the README's first
    command): the constructions and the audit itself are stubbed, the hand-over is not."""
    import certify.report.audit as report_audit
    import certify.report.demo as report_demo

    monkeypatch.setattr(report_demo, "run_demo", lambda json_output, out_dir: 0)
    seen = {}
    monkeypatch.setattr(report_audit, "run_audit", lambda out, show=None: seen.setdefault("out", out) and {})
    monkeypatch.setattr(report_audit, "print_summary", lambda doc: None)
    code, out, err = run(capsys, "demo", "--audit-out", str(tmp_path / "audit"))
    assert code == 0, err
    assert seen["out"] == tmp_path / "audit" and "certify audit: wrote" in out


# ------------------------------------------------------------------ option types

@pytest.mark.parametrize("argv,line", [
    (["estimate", "p.json", "--samples", "0"], "certify estimate: error: --samples: must be >= 1, got 0"),
    (["prove", "p.json", "--time-limit", "nan"], "certify prove: error: --time-limit: must be > 0, got nan"),
    (["prove", "p.json", "--accuracy", "inf"], "certify prove: error: --accuracy: must be a positive number, got inf"),
    (["prove", "p.json", "--output", "nodir/c.json"], "certify prove: error: -o: folder nodir does not exist"),
    (["bound", "--sphere-dim", "1", "--epsilon", "0", "--lipschitz", "1"],
     "certify bound: error: --epsilon: must be a finite number in [1e-09, 1e+06], got 0.0"),
    (["bound", "--sphere-dim", "1", "--epsilon", "0.1", "--lipschitz", "1", "--time-limit", "inf"],
     "certify bound: error: --time-limit: must be a finite number > 0, got inf"),
    (["construct-seq", "ka", "--example", "product", "--max-pairs", "0", "-o", "k.json"],
     "certify construct-seq ka: error: --max-pairs: must be >= 1, got 0"),
    (["audit", "--out", "p.json"], "certify audit: error: --out: p.json exists and is not a folder"),
    (["demo", "--audit-out", "p.json"], "certify demo: error: --audit-out: p.json exists and is not a folder"),
])
def test_an_option_out_of_range_is_one_line_naming_it(tmp_path, capsys, monkeypatch, argv, line):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.json").write_text("{}")
    code, out, err = run(capsys, *argv)  # returned, not a usage error (no SystemExit)
    assert code == 2 and out == "" and err == line + "\n", err


def test_an_option_that_is_not_a_number_stays_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["prove", "p.json", "--max-cells", "1e3"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "usage: certify prove" in err
    assert err.strip().splitlines()[-1] == "certify prove: error: argument --max-cells: invalid int value: '1e3'"


def test_option_types():
    import argparse

    from certify.cli import options

    assert options.positive_int("3") == 3 and options.positive_float("inf") == float("inf")
    for parse, text in [(options.positive_int, "0"), (options.positive_float, "nan"),
                        (options.positive_finite_float, "inf"), (options.positive_number, "-1"),
                        (options.epsilon_value, "1e-300"), (options.lipschitz_value, "1e300"),
                        (options.output_file, "."), (options.output_file, "no/such/folder/x.json")]:
        with pytest.raises(options.OptionValueError):
            parse(text)
    with pytest.raises(argparse.ArgumentTypeError, match="invalid float value: 'x'"):
        options.epsilon_value("x")
    assert options.output_file("./p.json") == "./p.json"  # kept as given, not normalised


def test_every_command_is_a_module_with_add_parser_and_run():
    from certify.cli.options import subcommands
    from certify.cli.parser import COMMANDS, build_parser

    names = list(subcommands(build_parser()))
    assert names == ["construct", "construct-seq", "tune", "eval", "estimate", "prove", "check", "claim", "bound",
                     "demo", "audit"]
    assert all(callable(m.add_parser) and callable(m.run) for m in COMMANDS)


def test_help_loads_no_numerics():
    code = ("import sys\nfrom certify.cli.main import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "for name in ['bound', 'claim', 'construct-seq']:\n    try:\n        main([name, '--help'])\n"
            "    except SystemExit:\n        pass\n"
            "heavy = [m for m in ('numpy', 'sympy', 'scipy', 'flint') if m in sys.modules]\n"
            "assert not heavy, heavy\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def test_the_package_runs_as_a_program():
    res = subprocess.run([sys.executable, "-m", "certify.cli", "--version"], capture_output=True, text=True)
    assert res.returncode == 0 and res.stdout.startswith("certify ")
