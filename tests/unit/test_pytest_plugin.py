"""The pytest plugin: paths from the rootdir, a clear failure for a missing file, --certify-strict."""

from __future__ import annotations

import pytest

import subprocess
import sys
import textwrap

from certify.certifier.writer import build_certificate
from certify.formats.jsonio import write_json_atomic

INNER = textwrap.dedent('''
    import certify.checker as checker

    SEEN = []
    _original = checker.check_file


    def _spy(path, problem=None, strict=False):
        SEEN.append(strict)
        return _original(path, problem, strict=False)  # the flag is what is tested; Arb is slow


    checker.check_file = _spy


    def test_relative_paths_come_from_the_rootdir(certify_certificate):
        report = certify_certificate("certs/c.cert.json", problem="probs/p.json")
        assert report.valid and report.verdict == "CERTIFIED"
        print("STRICT", SEEN[-1])


    def test_missing_file(certify_certificate):
        certify_certificate("certs/absent.cert.json")
''')


def _run(root, cwd, *options):
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider",
                           f"--rootdir={root}", str(root / "test_inner.py"), *options],
                          cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_fixture_paths_missing_files_and_strict_option(tmp_path, certified_pair):
    problem, result = certified_pair
    root = tmp_path / "project"
    (root / "certs").mkdir(parents=True)
    (root / "probs").mkdir()
    write_json_atomic(root / "certs" / "c.cert.json", build_certificate(problem, result))
    write_json_atomic(root / "probs" / "p.json", problem.to_json())
    (root / "test_inner.py").write_text(INNER)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    res = _run(root, elsewhere)  # started from another folder: paths still resolve
    out = res.stdout + res.stderr
    assert "1 failed, 1 passed" in out, out
    assert "STRICT False" in out, out
    assert "certs/absent.cert.json does not exist" in out and "rootdir" in out, out
    assert "Traceback" not in out and "FileNotFoundError" not in out, out
    res = _run(root, elsewhere, "--certify-strict")
    out = res.stdout + res.stderr
    assert "STRICT True" in out and "1 failed, 1 passed" in out, out
