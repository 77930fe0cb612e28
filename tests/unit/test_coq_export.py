"""certify claim --coq / --coq-check: exported files state the claim as written and compile
with coqc (Coq + Interval); a tampered theorem is rejected by Coq; REFUTED claims and claims
Coq Interval cannot express are not exported and no file is written.

coqc is needed: .ci/run installs it (Debian packages coq and libcoq-interval). Outside CI a
machine without coqc skips the compiling tests; in CI (the CI variable set) they fail."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from certify.claims.coq import NotExpressible, coq_check, coq_file, theorem
from certify.claims.decide import decide_claim
from certify.claims.light import light_claim
from certify.claims.result import VERIFIED
from certify.cli.main import main

HAVE_COQ = shutil.which("coqc") is not None
needs_coq = pytest.mark.skipif(not HAVE_COQ and not os.environ.get("CI"),
                               reason="coqc not installed (.ci/run installs coq and libcoq-interval)")

#: Claims of every construct the export writes (each VERIFIED by certify first).
CLAIMS = [
    "forall x in [0, 1]: sin(x) <= x",
    "forall x in [0, 1]: 1 - exp(-x) <= x",
    "forall x in [1/2, 2], y in [0, 1]: x*y - log(x) <= 3",
    "forall x in [0, 2]: sqrt(x) + 1 >= x",
    "forall x in [1e-3, 2]: x**(1/3) + x**-2 >= 1/2",
    "forall x in [-1, 1]: atan(x) <= pi/4 + 1/10**6",
    "forall x in [1/2, 3]: tanh(x) < 1",
    "forall x in [0, 2]: cosh(x) - sinh(x) > 0",
    "forall lam in [1/2, 20]: coth(lam) >= 1",
    "forall x in [0, 1], y in [1/2, 2]: min(x, y) + max(x*y, 1/3) <= 4",
    "forall x in [-1, 1]: abs(x) - x**2 >= -1/10**9 - 1/4",
    "forall R in [0, 1], fun in [0, 1]: R*fun <= 1",   # names Coq already uses
    "forall x in [0, pi/4]: tan(x) <= 1 + 1/10**9",
]


def test_every_claim_is_verified_first():
    for text in CLAIMS:
        assert decide_claim(text).verdict == VERIFIED, text


@needs_coq
def test_exported_claims_compile_with_coqc(tmp_path):
    out = tmp_path / "claims.v"
    path = tmp_path / "claims.txt"
    path.write_text("\n".join(CLAIMS) + "\n")
    assert main(["claim", "--file", str(path), "--coq", str(out), "--json"]) == 0
    source = out.read_text()
    assert source.count("Theorem claim_") == len(CLAIMS)
    ok, why = coq_check(source)
    assert ok is True, why


@needs_coq
def test_coq_check_reports_checked_by_coq(capsys):
    assert main(["claim", "forall x in [0, 1]: x*exp(x) <= 3", "--coq-check"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("VERIFIED ON RANGE, checked by Coq:")
    assert main(["claim", "forall x in [0, 1]: x*exp(x) <= 3", "--coq-check", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)["claims"][0]
    assert row["coq"]["checked"] is True and row["verdict"] == VERIFIED
    # 'inf' is no time limit, not an internal error
    assert main(["claim", "forall x in [0, 1]: x*exp(x) <= 3", "--coq-check", "--coq-timeout", "inf"]) == 0
    assert capsys.readouterr().out.startswith("VERIFIED ON RANGE, checked by Coq:")


@needs_coq
@pytest.mark.parametrize("true, false", [
    ("forall x in [0, 1]: sin(x) <= x", "forall x in [0, 1]: sin(x) <= x - 1/10**6"),
    ("forall lam in [1/2, 20]: coth(lam) >= 1", "forall lam in [1/2, 20]: coth(lam) >= 1 + 1/10**16"),
])
def test_coq_rejects_a_tampered_theorem(true, false):
    """The same proof script on a false statement: Coq's kernel refuses it (the export is
    not accepted on its shape alone)."""
    good, _ = theorem(light_claim(true))
    bad, uses = theorem(light_claim(false))
    assert coq_check(coq_file([(good, uses)]))[0] is True
    assert coq_check(coq_file([(bad, uses)]))[0] is False


def test_statement_is_the_claim_as_written():
    text, uses = theorem(light_claim("forall x in [1/2, 3], y in [-1, 0]: 0*log(x) + x/x >= y**2 - 1"))
    assert "((0 * (ln x)) + (x / x)) >= ((y ^ 2) - 1)" in text   # not sympy's simplified form
    assert "(1 / 2) <= x <= 3" in text and "(- 1) <= y <= 0" in text
    assert uses == set()


def test_refuted_claim_is_not_exported(tmp_path, capsys):
    out = tmp_path / "false.v"
    assert main(["claim", "forall x in [0, 1]: exp(x) <= 1 + x", "--coq", str(out)]) == 1
    assert "not exported: the claim is REFUTED" in capsys.readouterr().out
    assert not out.exists()


@pytest.mark.parametrize("text, why", [
    ("forall x in [1, 2]: besseli(1, x) <= x", "besseli"),
    ("forall x in [1, 2]: gamma(x) <= 2", "gamma"),
])
def test_inexpressible_claims_write_nothing(tmp_path, capsys, text, why):
    with pytest.raises(NotExpressible, match=why):
        theorem(light_claim(text))
    out = tmp_path / "x.v"
    assert main(["claim", text, "--coq", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert sum("not exported" in ln for ln in lines) == 1 and why in "\n".join(lines)
    assert not out.exists()


def test_bad_coq_file_name_is_refused(tmp_path, capsys):
    assert main(["claim", "forall x in [0, 1]: x <= 2", "--coq", str(tmp_path / "x.txt")]) == 2
    assert "--coq" in capsys.readouterr().err


@needs_coq
def test_variables_named_like_coq_keywords_are_renamed():
    """Gallina keywords and vernacular commands as variable names: the file still compiles."""
    ths = []
    for i, v in enumerate(["by", "exists2", "Fixpoint", "Inductive", "Set", "intros", "Hint"]):
        text = f"forall {v} in [0, 1]: {v}*{v} <= 1 + {v}"
        r = decide_claim(text)
        assert r.verdict == VERIFIED
        ths.append(theorem(light_claim(text), r.depths, name=f"keyword_{i}"))
    ok, why = coq_check(coq_file(ths), 300)
    assert ok is True, why
