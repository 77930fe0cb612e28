"""Exit codes that never lie (4 for internal errors), and the friction a new user met:
sizes, unknown arguments, closed pipes, numpy warnings, ``check`` on what is not a certificate."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import numpy as np
import pytest

import certify.checker.head
import certify.certifier.search
from certify.formats.certificate import MAX_NODES
from certify.certifier.writer import build_certificate
from certify.cli.main import main
from certify.errors import EXIT_INTERNAL
from certify.formats.jsonio import write_json_atomic



def run(capsys, *argv):
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse usage errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def docs(certified_pair):
    problem, result = certified_pair
    return problem.to_json(), build_certificate(problem, result)


@pytest.fixture
def files(tmp_path, docs):
    prob, cert = docs
    write_json_atomic(tmp_path / "p.json", prob)
    write_json_atomic(tmp_path / "p.cert.json", cert)
    return tmp_path


def _one_line(err):
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# ------------------------------------------------------------------ exit 4: internal errors

def _boom(*args, **kwargs):
    raise RuntimeError("injected fault")


def test_a_fault_in_the_search_is_exit_4_one_line_no_output(files, capsys, monkeypatch):
    monkeypatch.setattr(certify.certifier.search, "prove", _boom)
    code, out, err = run(capsys, "prove", files / "p.json", "-o", files / "new.cert.json")
    line = _one_line(err)
    assert code == EXIT_INTERNAL == 4, (code, err)
    assert line.startswith("certify prove: internal error: RuntimeError: injected fault") and "--debug" in line
    assert not (files / "new.cert.json").exists() and out == ""
    assert not list(files.glob(".new.cert.json*"))  # no temporary file either


def test_a_fault_in_the_checker_is_exit_4_never_invalid(files, capsys, monkeypatch):
    monkeypatch.setattr(certify.checker.pool, "bound_cells", _boom)
    code, out, err = run(capsys, "check", files / "p.cert.json")
    assert code == 4 and "INVALID" not in out, (code, out, err)
    assert _one_line(err).startswith("certify check: internal error: RuntimeError")


def test_a_fault_while_writing_leaves_no_file(files, capsys, monkeypatch):
    import certify.formats.jsonio

    def bad_dumps(*args, **kwargs):
        raise MemoryError("injected")

    monkeypatch.setattr(certify.formats.jsonio.json, "dumps", bad_dumps)
    code, _, err = run(capsys, "construct", "--target", "x0", "--sphere-dim", "1", "--epsilon", "0.5",
                       "--lipschitz", "1", "-o", files / "c.json")
    assert code == 4 and "MemoryError" in _one_line(err)
    assert not (files / "c.json").exists() and not list(files.glob(".c.json*"))


def test_a_fault_after_a_first_output_removes_it(tmp_path, capsys, monkeypatch):
    import certify.certifier.writer

    monkeypatch.setattr(certify.certifier.writer, "build_certificate", _boom)
    code, _, err = run(capsys, "construct-seq", "elementwise", "--target", "x0", "--sphere-dim", "1",
                       "--epsilon", "0.2", "--lipschitz", "1", "--lam", "20", "--prefix-length", "40",
                       "--max-length", "4", "-o", tmp_path / "s.json", "--certificate", tmp_path / "s.cert.json")
    assert code == 4 and "construct-seq elementwise" in _one_line(err)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_prints_the_traceback(files, capsys, monkeypatch, where):
    monkeypatch.setattr(certify.certifier.search, "prove", _boom)
    argv = ["--debug", "prove", files / "p.json"] if where == "before" else ["prove", files / "p.json", "--debug"]
    code, _, err = run(capsys, *argv)
    assert code == 4 and "Traceback" in err and "_boom" in err
    assert err.strip().splitlines()[-1].startswith("certify prove: internal error")


def test_exit_4_is_documented():
    from certify.cli.main import EPILOG, build_parser

    assert "\n  4  internal error" in EPILOG
    check_help = build_parser()._subparsers._group_actions[0].choices["check"].format_help()
    assert "4" in check_help and "internal" in check_help


# ------------------------------------------------------------------ usage, pipes, warnings

def test_unknown_argument_gets_the_commands_usage(files, capsys):
    code, _, err = run(capsys, "prove", files / "p.json", "--frobnicate")
    assert code == 2 and "usage: certify prove" in err and "unrecognized arguments: --frobnicate" in err
    code, _, err = run(capsys, "construct-seq", "ka", "--frob", "-o", files / "k.json")
    assert code == 2 and "usage: certify construct-seq ka" in err


def test_a_closed_pipe_ends_quietly(files):
    proc = subprocess.Popen([sys.executable, "-m", "certify.cli.main", "check", str(files / "p.cert.json"), "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before anything is written
    err = proc.stderr.read().decode()
    code = proc.wait(timeout=120)
    assert "Traceback" not in err and "BrokenPipe" not in err and "Exception ignored" not in err, err
    assert code == 0  # the answer was decided: VALID


def test_a_closed_pipe_in_process_keeps_the_verdict(files, capsys, monkeypatch):
    class Closed:
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self):
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(sys, "stdout", Closed())
    code = main(["check", str(files / "p.cert.json")])
    monkeypatch.undo()
    _, err = capsys.readouterr()
    assert code == 0 and err == ""


def test_numpy_warnings_do_not_leak(tmp_path, capsys):
    code, _, err = run(capsys, "construct", "--target", "log(x0)", "--sphere-dim", "2", "--epsilon", "0.1",
                       "-o", tmp_path / "p.json")
    assert code == 2 and "RuntimeWarning" not in err
    _one_line(err)
    with pytest.warns(RuntimeWarning):  # outside the CLI numpy still warns
        np.exp(np.array([1000.0]))


# ------------------------------------------------------------------ check: what it checks

def test_check_of_a_problem_file_is_bad_input(files, capsys):
    code, _, err = run(capsys, "check", files / "p.json")
    assert code == 2 and "is a problem file" in _one_line(err)
    (files / "other.json").write_text('{"format": "something/1"}')
    code, _, err = run(capsys, "check", files / "other.json")
    assert code == 2 and "not a certificate" in _one_line(err)


def test_check_of_a_folder_checks_only_certificates(files, capsys):
    import certify

    (files / "schema.json").write_text((__import__("pathlib").Path(certify.__file__).parent
                                        / "formats" / "schemas" / "certificate.schema.json").read_text())
    code, out, _ = run(capsys, "check", files)
    assert code == 0 and out.count("VALID ") == 1 and "skipped 2 JSON file(s)" in out, out
    code, out, _ = run(capsys, "check", files, "--json")
    assert code == 0 and len(json.loads(out)["skipped"]) == 2
    code, _, err = run(capsys, "check", __import__("pathlib").Path(certify.__file__).parent / "formats" / "schemas")
    assert code == 2 and "no certificate" in _one_line(err)


@pytest.fixture(scope="module")
def ka_doc(tmp_path_factory):
    from certify.constructions.kolmogorov_arnold import construct, example
    from certify.formats.seqmap import parse_seqmap

    return construct(parse_seqmap(example("product", 1, 0.1))).doc


def test_seqmap_breakpoints_that_do_not_decode_are_invalid(tmp_path, capsys, ka_doc):
    for junk in ["AAAA", "not base64!", 5, "eJwDAAAAAAE="]:
        doc = copy.deepcopy(ka_doc)
        doc["outer"][0]["breakpoints"] = junk
        write_json_atomic(tmp_path / "k.json", doc)
        code, out, err = run(capsys, "check", tmp_path / "k.json")
        assert code == 1 and "INVALID" in out and "outer[0].breakpoints" in out, (junk, out, err)


def test_seqmap_torus_bound_is_said_to_be_not_rechecked(tmp_path, capsys, ka_doc):
    doc = copy.deepcopy(ka_doc)
    doc["torus"] = {"bound": 1e-9, "pairs": 1, "seconds": 0.0}
    write_json_atomic(tmp_path / "k.json", doc)
    code, out, _ = run(capsys, "check", tmp_path / "k.json")
    assert code == 0 and "VALID" in out and "torus bound is NOT re-checked" in out
    code, out, _ = run(capsys, "check", tmp_path / "k.json", "--json")
    assert json.loads(out)["certificates"][0]["not_checked"] == ["torus"]


# ------------------------------------------------------------------ sizes

def test_huge_prefix_length_is_refused_before_allocating(tmp_path, capsys):
    import tracemalloc

    tracemalloc.start()
    code, _, err = run(capsys, "construct", "--target", "x0*x1", "--sphere-dim", "2", "--epsilon", "0.1",
                       "--lipschitz", "1", "--prefix-length", "10000000000", "-o", tmp_path / "p.json")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert code == 2 and "--prefix-length" in err and "GiB" in err and "10000000000" in err
    assert peak < 200 * 2**20 and not (tmp_path / "p.json").exists()  # work, not seconds
    code, _, err = run(capsys, "construct", "--target", "x0*x1", "--sphere-dim", "2", "--epsilon", "0.1",
                       "--lipschitz", "1", "--prefix-length", "1e10", "-o", tmp_path / "p.json")
    assert code == 2 and "--prefix-length" in err  # argparse: not an integer


def test_construct_names_the_sphere_dimension(tmp_path, capsys):
    code, _, err = run(capsys, "construct", "--target", "x0", "--sphere-dim", "50", "--epsilon", "0.1",
                       "-o", tmp_path / "p.json")
    assert code == 2 and "--sphere-dim" in _one_line(err) and "--prefix-length" not in err


def test_bound_answers_at_sphere_dim_20_and_refuses_beyond_its_range(capsys):
    code, out, err = run(capsys, "bound", "--sphere-dim", "20", "--epsilon", "0.1", "--lipschitz", "1")
    assert code == 0 and "eps^-1890 = 1e+1890" in out and err == "", err
    code, _, err = run(capsys, "bound", "--sphere-dim", "100", "--epsilon", "0.1", "--lipschitz", "1")
    assert code == 2 and "--sphere-dim" in _one_line(err)


@pytest.mark.parametrize("path,value,field", [
    (["sphere_dim"], 1.0, "sphere_dim"),
    (["sphere_dim"], True, "sphere_dim"),
    (["sphere_dim"], 12, "sphere_dim"),
    (["epsilon"], 10**400, "epsilon"),
    (["head", "keys", 0, 0], 10**400, "head.keys[0][0]"),
    (["head", "context_tokens"], 10**400, "head.context_tokens"),
    (["head", "context_tokens"], 10**12, "head.context_tokens"),
    (["head", "context_tokens"], 2.0, "head.context_tokens"),
])
def test_sizes_in_problem_files_exit_2_and_invalidate_certificates(tmp_path, capsys, docs, path, value, field):
    prob, cert = copy.deepcopy(docs)
    for doc in (prob, cert["problem"]):
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    (tmp_path / "p.json").write_text(json.dumps(prob))
    code, _, err = run(capsys, "prove", tmp_path / "p.json")
    assert code == 2 and field in _one_line(err), err
    (tmp_path / "c.json").write_text(json.dumps(cert))
    code, out, err = run(capsys, "check", tmp_path / "c.json")
    assert code == 1 and f"problem.{field}" in out, (out, err)


def test_a_tree_over_the_budget_is_refused_before_decoding(tmp_path, capsys, docs, monkeypatch):
    import base64
    import zlib

    _, cert = copy.deepcopy(docs)
    bits = 5 * 10**7  # compresses to about 50 KB, would decode for minutes
    assert bits > MAX_NODES
    cert["partition"]["trees"][0] = {"bits": bits, "data": base64.b64encode(
        zlib.compress(b"\xff" * (bits // 8), 9)).decode("ascii")}
    write_json_atomic(tmp_path / "c.json", cert)
    import certify.formats.jsonio

    def no_decompression(*args, **kwargs):
        raise AssertionError("the tree was decompressed before its size was checked")

    monkeypatch.setattr(certify.formats.jsonio.zlib, "decompressobj", no_decompression)
    code, out, _ = run(capsys, "check", tmp_path / "c.json")
    assert code == 1 and "partition.trees[0].bits" in out and str(MAX_NODES) in out, out


def test_the_supported_sphere_dimension_is_stated():
    from certify.formats.problem import MAX_SPHERE_DIM, problem_schema

    assert problem_schema()["properties"]["sphere_dim"]["maximum"] == MAX_SPHERE_DIM == 8


# ------------------------------------------------------------------ budgets the checker accepts

def test_a_partition_above_the_node_limit_is_refused_unless_the_limit_is_raised(files, capsys):
    cert = json.loads((files / "p.cert.json").read_text())
    nodes = sum(t["bits"] for t in cert["partition"]["trees"])
    assert nodes <= MAX_NODES
    code, out, _ = run(capsys, "check", files / "p.cert.json", "--max-nodes", nodes - 1)
    assert code == 1 and "INVALID" in out and "--max-nodes" in out
    code, out, _ = run(capsys, "check", files / "p.cert.json", "--max-nodes", nodes)
    assert code == 0 and "VALID" in out
    code, _, err = run(capsys, "check", files / "p.cert.json", "--max-nodes", 0)
    assert code == 2 and "--max-nodes" in _one_line(err)


def test_a_search_larger_than_the_default_limit_is_still_confirmed(files, capsys, monkeypatch):
    """decide() checks what the search wrote with a limit that fits it: a budget above the
    default is the caller's choice, not an internal error (exit 4)."""
    import certify.formats.certificate as certificate

    monkeypatch.setattr(certificate, "MAX_NODES", 8)
    code, out, _ = run(capsys, "prove", files / "p.json", "-o", files / "again.cert.json")
    assert code == 0 and "CERTIFIED" in out
    assert "--max-nodes" in out    # the "check it with" line names the limit the file needs
    nodes = sum(t["bits"] for t in json.loads((files / "again.cert.json").read_text())["partition"]["trees"])
    assert nodes > 8
    code, out, _ = run(capsys, "check", files / "again.cert.json", "--max-nodes", 8)
    assert code == 1 and "INVALID" in out


def test_seqmap_spec_with_a_huge_integer_epsilon_is_bad_input(tmp_path, capsys):
    spec = tmp_path / "s.json"
    spec.write_text('{"format": "certify.seqmap/1", "length": 2, "epsilon": 1' + "0" * 400
                    + ', "terms": [{"inner": ["x0", "x0"], "outer": "s"}]}')
    code, _, err = run(capsys, "construct-seq", "ka", "--spec", spec, "-o", tmp_path / "o.json")
    assert code == 2 and "epsilon" in _one_line(err)


@pytest.mark.parametrize("argv, field", [
    (["bound", "--sphere-dim", "1", "--epsilon", "0.1", "--lipschitz", "1e300"], "--lipschitz"),
    (["bound", "--sphere-dim", "1", "--epsilon", "1e-200", "--lipschitz", "1"], "--epsilon"),
    (["bound", "--sphere-dim", "1", "--epsilon", "0.1", "--lipschitz", "1", "--sup-norm", "1e300"], "--sup-norm"),
    (["construct", "--target", "x0", "--sphere-dim", "1", "--epsilon", "1e-200", "--method", "vmf", "-o", "{d}/q.json"], "--epsilon"),
    (["construct", "--target", "x0", "--sphere-dim", "1", "--epsilon", "1e300", "--method", "vmf", "-o", "{d}/q.json"], "--epsilon"),
    (["construct", "--target", "x0", "--sphere-dim", "1", "--epsilon", "0.1", "--lipschitz", "1e-300",
      "--method", "vmf", "-o", "{d}/q.json"], "--lipschitz"),
    (["construct", "--target", "x0", "--sphere-dim", "1", "--epsilon", "0.1", "--lam", "1e-300",
      "--method", "vmf", "-o", "{d}/q.json"], "--lam"),
    (["construct-seq", "elementwise", "--target", "x0", "--sphere-dim", "1", "--epsilon", "1e-8",
      "--max-length", "3", "-o", "{d}/q.json"], "--max-prefix-length"),
])
def test_extreme_real_parameters_are_bad_input_naming_the_option(tmp_path, capsys, argv, field):
    argv = [a.format(d=tmp_path) for a in argv]
    code, _, err = run(capsys, *argv)
    assert code == 2 and _one_line(err).startswith(f"certify {argv[0]}") and field in err, err
    assert not (tmp_path / "q.json").exists()


def test_a_verdict_the_checker_does_not_confirm_is_never_reported(files, capsys, monkeypatch):
    """prove -> write -> check: if the checker rejected the search's certificate (a bug in
    one of them), the answer is an internal error, not CERTIFIED, and nothing is written."""
    import certify.certifier.pipeline
    from certify.checker.head import CheckReport

    def rejecting(doc, path="<document>", problem=None, strict=False, workers=1, max_nodes=None):
        return CheckReport(path=path, valid=False, reason="planted disagreement", where="partition")

    monkeypatch.setattr(certify.checker.head, "check_document", rejecting)
    code, out, err = run(capsys, "prove", files / "p.json", "-o", files / "new.cert.json")
    assert code == EXIT_INTERNAL and "VerdictNotConfirmed" in _one_line(err) and out == ""
    assert not (files / "new.cert.json").exists()
    with pytest.raises(certify.certifier.pipeline.VerdictNotConfirmed):
        from certify.formats.problem import load_problem

        certify.certifier.pipeline.decide(load_problem(files / "p.json"))
