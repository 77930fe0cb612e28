"""Coq export of a claim (``certify claim --coq FILE.v``): a Coq file (Reals + the Interval
library) that states the claim as written and proves it with the ``interval`` tactic, and
``--coq-check``, which runs ``coqc`` on it.

The statement is the claim's syntax tree (:mod:`certify.claims.light`) in Coq's notation:
``forall x y : R, a <= x <= b -> c <= y <= d -> LHS <= RHS`` with exact rational constants,
``PI``, ``exp ln sqrt sin cos tan atan Rabs``, Coq's ``sinh cosh tanh`` (unfolded in the
proof), ``Rmin``/``Rmax`` (rewritten in the proof by two lemmas proved in the file),
``coth x := cosh x / sinh x`` (rewritten as 1 + 2/(exp(2x) - 1) by a lemma proved in the
file), ``x ^ k`` for integer powers, ``sqrt`` for ``** (1/2)`` and ``Rpower`` for other
rational powers. Claims with ``besseli`` or ``gamma`` have no Coq Interval counterpart:
:class:`NotExpressible` says so and nothing is written.

The proof moves everything to one side (``L - R <= 0``: Interval wants a constant bound)
and tries a ladder of Interval settings with ``first [...]``, ordered by certify's own search
(:attr:`certify.claims.result.ClaimResult.depths`, the most splits of each variable): the
variable split most often gets ``i_autodiff`` / ``i_taylor`` first, and the bisection depth
starts from certify's. Coq's kernel checks whichever setting succeeds; certify's boxes are
only hints (replaying them one ``interval`` call each would be far slower than Coq's own
bisection). Nothing here is trusted: a Coq file that does not compile proves nothing, and
``--coq-check`` reports Coq's answer beside certify's verdict.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from fractions import Fraction
from pathlib import Path

#: Names Coq (or the file's own lemmas) already uses: a variable with one of them is renamed.
_COQ_NAMES = {
    "R", "PI", "exp", "ln", "sqrt", "sin", "cos", "tan", "atan", "Rabs", "Rmin", "Rmax", "sinh",
    "cosh", "tanh", "coth", "Rpower", "IZR", "fun", "forall", "exists", "let", "in", "match",
    "end", "as", "return", "with", "if", "then", "else", "Type", "Prop", "Set", "at", "fix",
    "cofix", "where", "struct", "Proof", "Qed", "Lemma", "Theorem", "Definition", "is", "mod",
    "using", "pow", "Rinv", "Rdiv", "Rminus", "Rplus", "Rmult", "Ropp", "nat", "Z", "Q",
    "Rle", "Rlt", "Rge", "Rgt", "sqr", "Rsqr", "lra", "interval", "ring", "field", "id",
    # Gallina keywords and vernacular commands (a variable named so would not parse)
    "by", "exists2", "for", "SProp", "Fixpoint", "CoFixpoint", "Inductive", "CoInductive",
    "Variant", "Record", "Structure", "Class", "Instance", "Axiom", "Axioms", "Conjecture",
    "Parameter", "Parameters", "Variable", "Variables", "Hypothesis", "Hypotheses", "Example",
    "Remark", "Fact", "Corollary", "Proposition", "Goal", "Section", "End", "Module", "Import",
    "Export", "Require", "From", "Open", "Scope", "Local", "Global", "Let", "Notation", "Infix",
    "Ltac", "Check", "Print", "Eval", "Compute", "Admitted", "Defined", "Abort", "Show", "Unset",
    "Hint", "Coercion", "Canonical", "Arguments", "Implicit", "Context", "Search", "Program",
    "Include", "Transparent", "Opaque", "Universe", "Polymorphic", "Set", "Type", "Prop",
    "intros", "intro", "split", "apply", "exact", "unfold", "rewrite", "first", "try", "idtac",
    "now", "auto", "assert", "destruct", "induction", "simpl", "repeat", "do", "fail", "i_prec",
    "i_bisect", "i_autodiff", "i_taylor", "i_depth", "i_degree", "i_native_compute", "i_delay",
}

#: Seconds ``--coq-check`` lets ``coqc`` run on one claim before it reports a time-out.
DEFAULT_COQ_TIMEOUT = 600


class NotExpressible(Exception):
    """The claim has no Coq Interval statement (the message says why, in one line)."""


def _ident(name: str) -> str:
    return name if name not in _COQ_NAMES and not name.startswith("_") else "v" + name


def _num(q: Fraction) -> str:
    if q.denominator == 1:
        return f"({q.numerator})" if q < 0 else f"{q.numerator}"
    return f"({q.numerator} / {q.denominator})"


class _Writer:
    def __init__(self, names, claim=None):
        self.claim = claim
        self.names = {n: _ident(n) for n in names}
        self.uses: set[str] = set()
        self.coth_args: list[tuple[str, tuple]] = []   # (Coq text, tree) of each coth argument, outer first

    def term(self, t: tuple) -> str:
        kind = t[0]
        if kind == "num":
            return _num(t[1])
        if kind == "pi":
            return "PI"
        if kind == "var":
            return self.names[t[1]]
        if kind == "neg":
            return f"(- {self.term(t[1])})"
        if kind in ("add", "sub", "mul", "div"):
            op = {"add": "+", "sub": "-", "mul": "*", "div": "/"}[kind]
            return f"({self.term(t[1])} {op} {self.term(t[2])})"
        if kind == "pow":
            base, p = self.term(t[1]), t[2]
            if p.denominator == 1:
                k = int(p)
                return f"({base} ^ {k})" if k >= 0 else f"(/ ({base} ^ {-k}))"
            if p == Fraction(1, 2):
                return f"(sqrt {base})"
            if self.claim is None or _sign(self.claim, t[1]) <= 0:
                raise NotExpressible("a fractional power whose base certify cannot show positive on the box "
                                     "(Coq's Rpower 0 p is 1, not 0)")
            return f"(Rpower {base} {_num(p)})"
        name, args = t[1], t[2]
        if name in ("besseli", "gamma"):
            raise NotExpressible(f"{name} has no counterpart in Coq Interval")
        if name in ("min", "max"):
            self.uses.add(name)
            coq = "Rmin" if name == "min" else "Rmax"
            out = self.term(args[0])
            for a in args[1:]:
                out = f"({coq} {out} {self.term(a)})"
            return out
        if name == "coth":
            self.uses.add("coth")
            slot = len(self.coth_args)
            self.coth_args.append(None)
            inner = self.term(args[0])
            self.coth_args[slot] = (inner, args[0])
            return f"(coth {inner})"
        if name in ("sinh", "cosh", "tanh"):
            self.uses.add("hyperbolic")
        coq = {"log": "ln", "abs": "Rabs"}.get(name, name)
        return f"({coq} {self.term(args[0])})"


_LEMMAS = {
    "min": """Lemma certify_min (a b : R) : Rmin a b = (a + b - Rabs (a - b)) / 2.
Proof. unfold Rmin, Rabs; destruct (Rle_dec a b); destruct (Rcase_abs (a - b)); lra. Qed.
""",
    "max": """Lemma certify_max (a b : R) : Rmax a b = (a + b + Rabs (a - b)) / 2.
Proof. unfold Rmax, Rabs; destruct (Rle_dec a b); destruct (Rcase_abs (a - b)); lra. Qed.
""",
    "coth": """Definition coth (x : R) : R := cosh x / sinh x.

Lemma certify_coth (x : R) : x <> 0 -> coth x = 1 + 2 / (exp (2 * x) - 1).
Proof.
  intros H. unfold coth, cosh, sinh. rewrite exp_Ropp.
  replace (2 * x) with (x + x) by ring. rewrite exp_plus.
  assert (P : 0 < exp x) by apply exp_pos.
  assert (Q : exp x <> 1) by (intro C; apply H; rewrite <- exp_0 in C; apply exp_inv; exact C).
  assert (R1 : exp x * exp x - 1 <> 0) by (intro C; apply Q; nra).
  assert (R2 : exp x - / exp x <> 0).
  { replace (exp x - / exp x) with ((exp x * exp x - 1) / exp x) by (field; lra).
    unfold Rdiv. apply Rmult_integral_contrapositive_currified; [exact R1|].
    apply Rinv_neq_0_compat; lra. }
  field. repeat split; lra.
Qed.
""",
}


def _tactics(names: list[str], depths) -> list[str]:
    """The ladder of Interval settings, most promising first (see the module docstring)."""
    depths = list(depths) if depths else [0] * len(names)
    order = sorted(range(len(names)), key=lambda i: (-depths[i], i))
    bisect = ", ".join(f"i_bisect {names[i]}" for i in order)
    depth = max(15, min(30, sum(depths) + 4))
    out = ["interval"]
    for rank, i in enumerate(order):
        v = names[i]
        out.append(f"interval with ({bisect}, i_autodiff {v}, i_prec 60, i_depth {depth})")
        out.append(f"interval with ({bisect}, i_taylor {v}, i_depth {depth})")
        if rank == 0:
            out.append(f"interval with ({bisect}, i_autodiff {v}, i_depth {max(depth, 25)})")
            out.append(f"interval with ({bisect}, i_taylor {v}, i_degree 14, i_prec 90, i_depth {depth})")
    return out


_MOVE = {"<=": "apply Rminus_le.", ">=": "apply Rle_ge, Rminus_le.",
         "<": "apply Rminus_lt.", ">": "apply Rlt_gt, Rminus_lt."}


def _comment(text: str) -> str:
    # no comment delimiters, and no '"' (Coq reads strings inside comments)
    return text.replace("(*", "( *").replace("*)", "* )").replace('"', "'")


def theorem(claim, depths=None, name: str = "certify_claim") -> tuple[str, set[str]]:
    """The Coq theorem and proof of one LightClaim, and the helper lemmas it uses. Raises
    :class:`NotExpressible`."""
    w = _Writer(claim.names, claim)
    if len(set(w.names.values())) < len(w.names) or any(v.startswith("H") and v[1:].isdigit() for v in w.names.values()):
        raise NotExpressible("variable names that collide in Coq (rename them)")
    names = [w.names[n] for n in claim.names]
    hyps = []
    for n, (lo, hi) in zip(names, claim.ends):
        hyps.append(f"{w.term(lo)} <= {n} <= {w.term(hi)}")
    statement = f"{w.term(claim.lhs)} {claim.op} {w.term(claim.rhs)}"
    tactics = _tactics(names, depths)
    hnames = [f"H{i}" for i in range(len(names))]
    steps = [f"intros {' '.join(names)} {' '.join(hnames)}."]
    if "min" in w.uses or "max" in w.uses:
        steps.append("rewrite ?certify_min, ?certify_max.")
    for text, tree in w.coth_args:
        sign = _sign(claim, tree)
        if sign == 0:
            raise NotExpressible("coth of an argument whose sign certify cannot show on the whole box")
        side = "apply Rgt_not_eq, Rlt_gt" if sign > 0 else "apply Rlt_not_eq"
        steps.append(f"rewrite (certify_coth {text}) by ({side}; first [{' | '.join(tactics)}]).")
    if "hyperbolic" in w.uses:
        steps.append("unfold tanh, sinh, cosh.")
    steps.append(_MOVE[claim.op])
    steps.append("first [ " + "\n        | ".join(tactics) + " ].")
    body = (f"(* {_comment(claim.text)} *)\n"
            f"Theorem {name} : forall {' '.join(names)} : R,\n  "
            + " ->\n  ".join(hyps + [statement]) + ".\nProof.\n  " + "\n  ".join(steps) + "\nQed.\n")
    return body, w.uses


def _sign(claim, tree) -> int:
    """+1 / -1 when ``tree`` is certainly positive / negative on the claim's box (Arb), else 0."""
    if claim.box is None:
        return 0
    import flint

    from certify.claims.light import evaluate
    from certify.kernel.arb_balls import arb_precision

    env = {}
    for n, (lo, hi) in zip(claim.names, claim.box):
        mid, rad = (lo + hi) / 2, (hi - lo) / 2
        env[n] = flint.arb(flint.fmpq(mid.numerator, mid.denominator), flint.fmpq(rad.numerator, rad.denominator))
    with arb_precision(128):
        v = evaluate(tree, env)
    if v.is_finite() and v > 0:
        return 1
    if v.is_finite() and v < 0:
        return -1
    return 0


def coq_file(theorems: list[tuple[str, set[str]]]) -> str:
    """The whole file: imports, the helper lemmas used, the theorems."""
    uses = set().union(*(u for _, u in theorems)) if theorems else set()
    head = ["(* Generated by certify claim --coq: each theorem states a claim as written and",
            "   proves it with the Interval tactic. Check it with: coqc FILE.v *)",
            "From Coq Require Import Reals Lra Psatz.",
            "From Interval Require Import Tactic.",
            "Open Scope R_scope.", ""]
    lemmas = [_LEMMAS[k] for k in ("min", "max", "coth") if k in uses]
    return "\n".join(head) + "\n".join(lemmas) + ("\n" if lemmas else "") + "\n".join(t for t, _ in theorems)


def coqc_path() -> str | None:
    return shutil.which("coqc")


def coq_check(source: str, timeout: float | None = DEFAULT_COQ_TIMEOUT) -> tuple[bool | None, str]:
    """Compile ``source`` with ``coqc`` in a scratch folder: (True, "") when Coq accepts it,
    (False, the first error line) when it does not, (None, why) when coqc is missing or
    timed out."""
    coqc = coqc_path()
    if coqc is None:
        return None, "coqc not found (install coq and libcoq-interval)"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "certify_claim.v"
        path.write_text(source)
        try:
            r = subprocess.run([coqc, "-q", str(path)], cwd=tmp, capture_output=True, text=True,
                               timeout=timeout, env={**os.environ, "LC_ALL": "C"})
        except subprocess.TimeoutExpired:
            return None, f"coqc did not finish in {timeout:g} s"
    if r.returncode == 0:
        return True, ""
    text = [ln.strip() for ln in (r.stderr or r.stdout).strip().splitlines() if ln.strip()]
    first = next((k for k, ln in enumerate(text) if ln.startswith("Error")), max(len(text) - 1, 0))
    return False, " ".join(" ".join(text[first:first + 3]).split())[:300]
