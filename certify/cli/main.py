"""The ``certify`` command: argument handling, output and exit codes only.

Exit codes: 0 success (CERTIFIED, certificate valid); 1 REFUTED or certificate invalid;
2 bad input or usage (one line on stderr naming the field); 3 UNDECIDED; 4 internal error
(any other exception: one line naming the command and the exception, no output file;
``--debug`` prints the traceback). 0, 1 and 3 come only from a decided verdict.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import math
import os
import sys
import time
import traceback
import warnings
from pathlib import Path

import numpy as np

from certify import __version__
from certify.budgets import (BISECTION_MAX_CELLS, DEFAULT_MAX_BOXES, DEFAULT_MAX_CELLS, DEFAULT_MAX_PAIRS,
                      MAX_CERTIFIED_CELLS)
from certify.errors import EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_OK, EXIT_REFUTED, EXIT_UNDECIDED, InputError

#: Largest distance from the unit sphere accepted for evaluation points.
UNIT_TOLERANCE = 1e-9
#: Exit status when stdout was closed before the answer was printed (128 + SIGPIPE, as a
#: shell reports a program ended by a broken pipe); a complete answer keeps its own code.
EXIT_BROKEN_PIPE = 141
#: Output files written by the running command: removed again when it ends in an error.
_WRITTEN: list[Path] = []

EPILOG = """\
exit codes:
  0  success: CERTIFIED (prove), every certificate valid (check), VERIFIED ON RANGE
     (claim), other commands done
  1  REFUTED (prove: a witness point with error rigorously > epsilon; claim: a witness
     where the inequality is certainly false), or a certificate is INVALID (check: the
     reason names the field and leaf)
  2  bad input or usage: malformed JSON, wrong shapes, NaN/inf, unknown fields,
     expressions outside the whitelist, points off the sphere (one message naming the field)
  3  UNDECIDED (prove, claim: the budget or time limit ran out; the bounds so far are shown)
  4  internal error: an unexpected exception (a bug or a fault of the host, such as
     memory); never a verdict. One line names the command and the exception; no output
     file is written; `certify --debug COMMAND ...` prints the traceback

what a verdict rests on:
  IEEE 754 binary64 arithmetic only (round to nearest, correctly rounded + - * / sqrt);
  exp, log, sin, ... are the kernel's own enclosures, never numpy's or the C library's,
  so every answer is sound on every host. Budgets count work (cells, boxes): the same
  input and budget give the same verdict on an idle or a loaded machine; across hosts an
  enclosure may differ in its last bits (BLAS summation orders), never its soundness.
  --time-limit is an optional extra cap that makes an UNDECIDED answer load-dependent.

examples:
  certify demo
  certify prove p.json -o p.cert.json
  certify check p.cert.json --problem p.json
  certify claim "forall lam in [1, 100]: coth(lam) - 1/lam >= 1 - 1/lam"
  certify bound --sphere-dim 2 --epsilon 0.1 --lipschitz 1
  certify audit --check
  certify prove p.json --accuracy 0.01 --json
  certify construct --target "x0*x1" --sphere-dim 2 --epsilon 0.2 --method net -o p.json
  certify construct --target "x0*x1" --sphere-dim 2 --epsilon 0.05 --method vmf \\
          --lam 300 --prefix-length 1000 -o vmf.json
  certify estimate p.json
  certify eval p.json --points X.npy --out Y.npy
"""


def _progress_printer(enabled: bool):
    if not enabled:
        return None

    def show(message: str) -> None:
        print(f"  ... {message}", file=sys.stderr, flush=True)

    return show


def _emit(args, payload: dict, lines: list[str]) -> None:
    text = (json.dumps(payload, indent=1, allow_nan=False, default=_json_default)
            if getattr(args, "json", False) else "\n".join(lines))
    try:
        print(text, flush=True)
    except BrokenPipeError:
        # a reader such as `head` stopped early: the answer is decided, its exit code stands
        _silence_stdout()


def _json_default(obj):
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _finite_or_none(x: float | None):
    return x if x is not None and math.isfinite(x) else None


def _check_output_path(path: str, field: str) -> Path:
    """Refuse an output path whose folder is missing before any work is done."""
    out = Path(path)
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(field, f"folder {parent} does not exist")
    if out.is_dir():
        raise InputError(field, f"{out} is a folder, expected a file path")
    return out


def _write(writer, path: Path, data, field: str) -> None:
    try:
        writer(path, data)
    except OSError as exc:
        raise InputError(field, f"cannot write {path}: {exc.strerror or exc}") from None
    _WRITTEN.append(Path(path))


# ---------------------------------------------------------------------------------- commands

def cmd_construct(args) -> int:
    from certify.constructions.prefixes import construct_net, construct_vmf
    from certify.formats.expressions import parse_target
    from certify.formats.jsonio import write_json_atomic

    output = _check_output_path(args.output, "-o")
    if args.sphere_dim < 1:
        raise InputError("--sphere-dim", f"must be >= 1, got {args.sphere_dim}")
    target = parse_target(args.target, args.sphere_dim, fieldname="--target")
    start = time.perf_counter()
    if args.method == "net":
        if args.head != "softmax" and args.head is not None:
            raise InputError("--head", "the net construction builds softmax heads only")
        c = construct_net(target, args.epsilon, args.lipschitz, args.lam, args.prefix_length,
                          args.max_prefix_length)
    else:
        c = construct_vmf(target, args.epsilon, args.lipschitz, args.lam, args.prefix_length,
                          args.head or "core", args.max_prefix_length)
    elapsed = time.perf_counter() - start
    _write(write_json_atomic, output, c.problem.to_json(), "-o")
    meta = c.problem.meta
    payload = {"output": str(args.output), "sha256": c.problem.sha256, "seconds": elapsed, **meta}
    lines = [f"wrote {args.output}: {args.method} construction, {c.problem.kind} head",
             f"  prefix length N = {c.problem.prefix_length}, lambda = {c.lam:.6g}, "
             f"covering radius delta = {c.partition.delta:.4g}",
             f"  Lipschitz L = {meta['lipschitz']:.4g}"
             + (" (ESTIMATED by sampling; pass --lipschitz for a stated constant)" if meta["lipschitz_estimated"] else ""),
             f"  a-priori bound from the derived constants: {c.predicted_bound:.4g} (epsilon {args.epsilon:g})",
             f"  sha256 {c.problem.sha256}",
             "  next: certify estimate " + str(args.output)]
    _emit(args, payload, lines)
    return EXIT_OK


def _load_points(path: str, sphere_dim: int) -> np.ndarray:
    try:
        X = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise InputError("--points", f"no such file: {path}") from None
    except (ValueError, OSError, EOFError) as exc:
        raise InputError("--points", f"not a readable .npy array without pickles: {exc}") from None
    if not isinstance(X, np.ndarray) or X.dtype.kind not in "fiu":
        raise InputError("--points", "expected a numeric .npy array")
    if X.ndim != 2 or X.shape[1] != sphere_dim + 1:
        raise InputError("--points", f"expected shape (B, {sphere_dim + 1}), got {X.shape}")
    X = X.astype(np.float64)
    if not np.all(np.isfinite(X)):
        bad = int(np.flatnonzero(~np.isfinite(X).all(axis=1))[0])
        raise InputError("--points", f"row {bad} has a NaN or infinite coordinate")
    off = np.abs(np.linalg.norm(X, axis=1) - 1.0)
    if X.shape[0] and off.max() > UNIT_TOLERANCE:
        bad = int(np.argmax(off))
        raise InputError("--points", f"row {bad} is off the unit sphere by {off[bad]:.3g} "
                                     f"(tolerance {UNIT_TOLERANCE:g}); normalise the points")
    return X


def cmd_eval(args) -> int:
    from certify.formats.problem import load_problem
    from certify.formats.jsonio import write_npy_atomic

    out = _check_output_path(args.out, "--out")
    problem = load_problem(args.problem)
    X = _load_points(args.points, problem.sphere_dim)
    head = problem.head
    if args.tokens is not None:
        if problem.sequence is None:
            raise InputError("--tokens", "only sequence problems have input tokens")
        n = problem.sequence["max_length"]
        if not 1 <= args.tokens <= n:
            raise InputError("--tokens", f"must be in 1..{n} (the problem's max_length), got {args.tokens}")
        head = dataclasses.replace(head, context_count=head.context_count + args.tokens - 1)
    Y = head(X)
    _write(write_npy_atomic, out, Y, "--out")
    bad = int((~np.isfinite(Y)).any(axis=1).sum())
    if bad:
        print(f"warning: {bad} output row(s) are not finite (overflow in float64)", file=sys.stderr)
    _emit(args, {"output": str(args.out), "shape": list(Y.shape), "non_finite_rows": bad},
          [f"wrote {args.out}: head outputs of shape {Y.shape}"])
    return EXIT_OK


def cmd_estimate(args) -> int:
    from certify.certifier.estimate import estimate_sup_error
    from certify.formats.problem import load_problem

    if args.samples < 1:
        raise InputError("--samples", f"must be >= 1, got {args.samples}")
    problem = load_problem(args.problem)
    start = time.perf_counter()
    progress = _progress_printer(sys.stderr.isatty() and not args.json)
    est = estimate_sup_error(problem, samples=args.samples, seed=args.seed, progress=progress)
    elapsed = time.perf_counter() - start
    payload = {"problem": str(args.problem), "sha256": problem.sha256, "epsilon": problem.epsilon,
               **est.to_json(), "value": _finite_or_none(est.value), "seconds": elapsed}
    verdict = ("below epsilon at every point tried" if est.value <= problem.epsilon
               else "ABOVE epsilon at the argmax" if est.value > problem.epsilon
               else "undefined (NaN) at the argmax")
    lines = ["NON-RIGOROUS ESTIMATE (sampling; a narrow bad region can be missed; not a certificate)",
             f"  largest error found: {est.value:.6g}  ({verdict}; epsilon {problem.epsilon:g})",
             f"  at x = {np.array2string(est.argmax, precision=6, separator=', ')}",
             f"  points used: {est.points_used} ({est.samples} samples, {est.refined} local refinements), "
             f"{elapsed:.2f} s"]
    _emit(args, payload, lines)
    return EXIT_OK


def _fmt(x) -> str:
    return "unknown" if x is None or not math.isfinite(x) else f"{x:.6g}"


def cmd_prove(args) -> int:
    from certify.certifier.pipeline import CERTIFIED, REFUTED, decide
    from certify.formats.problem import load_problem
    from certify.formats.jsonio import write_json_atomic

    output = _check_output_path(args.output, "-o") if args.output else None
    if args.max_cells < 1:
        raise InputError("--max-cells", f"must be >= 1, got {args.max_cells}")
    if output is not None and args.max_cells > MAX_CERTIFIED_CELLS:
        raise InputError("--max-cells", f"at most {MAX_CERTIFIED_CELLS} when a certificate is written "
                                        f"(-o): larger partitions exceed what certify check accepts")
    if args.time_limit is not None and not args.time_limit > 0:
        raise InputError("--time-limit", f"must be > 0, got {args.time_limit}")
    if args.accuracy is not None and not (args.accuracy > 0 and math.isfinite(args.accuracy)):
        raise InputError("--accuracy", f"must be a positive number, got {args.accuracy}")
    problem = load_problem(args.problem)
    show = sys.stderr.isatty() and not args.json

    def progress(info):
        if show:
            print(f"\r  cells {info['cells']:>9}  open {info['frontier']:>8}  "
                  f"sup error in [{_fmt(info['lower'])}, {_fmt(info['upper'])}]  {info['seconds']:.1f} s",
                  end="", file=sys.stderr, flush=True)

    d = decide(problem, max_cells=args.max_cells, time_limit=args.time_limit, accuracy=args.accuracy,
               method=args.method, progress=progress)
    r = d.result
    if show:
        print(file=sys.stderr)
    written = None
    if output is not None and d.certificate is not None:
        _write(write_json_atomic, output, d.certificate, "-o")
        written = str(output)
    payload = {"problem": str(args.problem), "sha256": problem.sha256, "epsilon": problem.epsilon,
               "verdict": r.verdict, "lower": r.lower, "upper": _finite_or_none(r.upper),
               "witness": None if r.witness is None else {"point": r.witness.point.tolist(),
                                                          "lower": r.witness.lower,
                                                          "upper": _finite_or_none(r.witness.upper)},
               "method": r.method, "cells": r.cells, "leaves": r.leaf_count, "seconds": r.seconds,
               "accuracy": args.accuracy, "reason": r.reason or None, "certificate": written,
               "checked": d.report is not None and d.report.valid}
    lines = [f"{r.verdict}: sup_x max_i |H_i(x) - f_i(x)| <= {problem.epsilon:g}"
             + (" holds" if r.verdict == CERTIFIED else " is false" if r.verdict == REFUTED else " is undecided"),
             f"  rigorous enclosure of the sup error: [{_fmt(r.lower)}, {_fmt(r.upper)}]"]
    if r.witness is not None:
        lines.append(f"  witness x = y/|y|, y = {np.array2string(r.witness.point, precision=17, separator=', ')}"
                     f" (error in [{_fmt(r.witness.lower)}, {_fmt(r.witness.upper)}])")
    lines.append(f"  {r.cells} cells bounded ({r.method}), {r.leaf_count} leaves, {r.seconds:.2f} s"
                 + (f"; certificate re-checked by the independent checker in {d.report.seconds:.2f} s"
                    if d.report is not None else ""))
    if r.reason:
        lines.append(f"  stopped: {r.reason}")
    if written:
        lines.append(f"  certificate: {written} (check it with: certify check {written})")
    elif output is not None:
        lines.append("  no certificate written: an UNDECIDED answer has none")
    _emit(args, payload, lines)
    return {CERTIFIED: EXIT_OK, REFUTED: EXIT_REFUTED}.get(r.verdict, EXIT_UNDECIDED)


def cmd_check(args) -> int:
    from certify.checker import check_file, scan_certificates

    target = Path(args.certificate)
    skipped = []
    if target.is_dir():
        if args.problem:
            raise InputError("--problem", "give one certificate file, not a folder, with --problem")
        paths, skipped = scan_certificates(target)
        if not paths:
            raise InputError("CERT", f"no certificate (*.json whose format is certify.certificate/1 or "
                                     f"certify.seqmap-certificate/1) under {target}; {len(skipped)} other "
                                     "JSON file(s) skipped")
    else:
        paths = [target]
    reports = []
    for path in paths:
        reports.append(check_file(path, args.problem, args.strict))
    ok = all(r.valid for r in reports)
    lines = []
    for r in reports:
        if r.valid:
            detail = (f"end-to-end bound {_fmt(r.upper)}" if r.kind == "seqmap"
                      else f"{r.leaves} leaves, bound {_fmt(r.upper)}" if r.verdict == "CERTIFIED"
                      else f"witness error >= {_fmt(r.lower)}")
            lines.append(f"VALID    {r.path}: {r.verdict} ({detail}; {r.seconds:.2f} s)")
            if "torus" in r.not_checked:
                lines.append("         the recorded torus bound is NOT re-checked: VALID covers the "
                             "end-to-end bound only")
        else:
            lines.append(f"INVALID  {r.path}: {r.where}: {r.reason}")
    if skipped:
        lines.append(f"skipped {len(skipped)} JSON file(s) under {target} that are not certificates")
    payload = {"valid": ok, "strict": args.strict, "certificates": [r.to_json() for r in reports],
               "skipped": [str(p) for p in skipped]}
    _emit(args, payload, lines)
    return EXIT_OK if ok else EXIT_REFUTED


def cmd_claim(args) -> int:
    from certify.claims.search import REFUTED as C_REFUTED, VERIFIED, check_claim, parse_claim, parse_claims_file

    if (args.claim is None) == (args.file is None):
        raise InputError("CLAIM", "give one claim string or --file FILE (not both)")
    if args.max_boxes < 1:
        raise InputError("--max-boxes", f"must be >= 1, got {args.max_boxes}")
    if args.time_limit is not None and not args.time_limit > 0:
        raise InputError("--time-limit", f"must be > 0, got {args.time_limit}")
    if args.file is not None:
        try:
            text = Path(args.file).read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError("--file", f"cannot read {args.file}: {exc}") from None
        claims = parse_claims_file(text, f"--file {args.file}")
    else:
        claims = [parse_claim(args.claim, "CLAIM")]
    show = sys.stderr.isatty() and not args.json
    results, lines = [], []
    for c in claims:
        def progress(info, c=c):
            if show:
                print(f"\r  {info['boxes']:>8} boxes, {info['open']:>7} open, {info['seconds']:.1f} s",
                      end="", file=sys.stderr, flush=True)
        r = check_claim(c, max_boxes=args.max_boxes, time_limit=args.time_limit, progress=progress)
        if show:
            print("\r" + " " * 50 + "\r", end="", file=sys.stderr)
        results.append(r)
        lines.append(f"{r.verdict}: {c.text}")
        if r.verdict == VERIFIED:
            lines.append(f"  on the box {c.box_text()} ({r.boxes} boxes, {r.seconds:.2f} s)")
        elif r.verdict == C_REFUTED:
            where = ", ".join(f"{n} = {q}" for n, q in r.witness.items())
            lines.append(f"  witness {where}: the margin (the side that should be larger minus the "
                         f"other) lies in [{r.witness_margin[0]:.6g}, {r.witness_margin[1]:.6g}]")
        else:
            lines.append(f"  {r.reason} ({r.boxes} boxes, {r.seconds:.2f} s)")
    verdicts = [r.verdict for r in results]
    payload = {"claims": [r.to_json() for r in results]}
    _emit(args, payload, lines)
    if C_REFUTED in verdicts:
        return EXIT_REFUTED
    return EXIT_OK if all(v == VERIFIED for v in verdicts) else EXIT_UNDECIDED


def _power_text(base: float, exponent: int) -> str:
    """base**exponent for printing, through logarithms when it overflows float64."""
    try:
        return f"{base ** exponent:.3g}"
    except OverflowError:
        log10 = exponent * math.log10(base)
        whole = math.floor(log10)
        return f"{10 ** (log10 - whole):.3g}e+{whole}"


def cmd_bound(args) -> int:
    from certify.constructions.prefix_length import ROUTES, paper_exponent, route_bound, smallest_certified
    from certify.constructions.prefixes import EPSILON_RANGE, LIPSCHITZ_RANGE, _range_bounds, check_in_range
    from certify.formats.expressions import parse_target

    routes = [args.route] if args.route else list(ROUTES)
    if args.sphere_dim < 1:
        raise InputError("--sphere-dim", f"must be >= 1, got {args.sphere_dim}")
    check_in_range("--epsilon", args.epsilon, EPSILON_RANGE)
    check_in_range("--lipschitz", args.lipschitz, LIPSCHITZ_RANGE)
    if args.sup_norm is not None:
        check_in_range("--sup-norm", args.sup_norm, LIPSCHITZ_RANGE)
    if args.time_limit is not None and not (math.isfinite(args.time_limit) and args.time_limit > 0):
        raise InputError("--time-limit", f"must be a finite number > 0, got {args.time_limit}")
    if args.max_cells < 1:
        raise InputError("--max-cells", f"must be >= 1, got {args.max_cells}")
    if args.max_prefix_length < 1:
        raise InputError("--max-prefix-length", f"must be >= 1, got {args.max_prefix_length}")
    target = None
    sup_norm = args.sup_norm
    if args.certify_target is not None:
        target = parse_target([args.certify_target], args.sphere_dim, fieldname="--certify-target")
        if sup_norm is None:
            # sampled extremes plus L delta: chooses parameters only (the proofs decide)
            sup_norm, _ = _range_bounds(target, args.lipschitz)
    if sup_norm is None:
        sup_norm = 1.0
    bounds = [route_bound(r, args.sphere_dim, args.epsilon, args.lipschitz, sup_norm, args.max_prefix_length)
              for r in routes]
    m, e = args.sphere_dim, paper_exponent(args.sphere_dim)
    payload = {"sphere_dim": m, "epsilon": args.epsilon, "lipschitz": args.lipschitz, "sup_norm": sup_norm,
               "paper_exponent": e, "routes": [b.to_json() for b in bounds]}
    lines = [f"certify bound: S^{m}, eps = {args.epsilon:g}, L = {args.lipschitz:g}, |f|_inf <= {sup_norm:.4g}",
             f"{'route':<7} {'lambda':>10} {'delta':>10} {'prefix length N':>18} {'a-priori':>9}  growth"]
    for b in bounds:
        n = f"{b.prefix_length:.0f}" if b.prefix_length_exact else f"~{b.prefix_length:.3g}"
        lines.append(f"{b.route:<7} {b.lam:>10.4g} {b.delta:>10.3g} {n:>18} {b.a_priori_bound:>9.3g}  N ~ {b.exponent}")
    lines.append(f"paper (Theorem 4): N = O(eps^-{e}) with unknown constants; eps^-{e} = "
                 f"{_power_text(args.epsilon, -e)} (shape only)")
    lines.append("paper route: the paper's construction with our derived constants; net: ours (THEORY 3.3). "
                 "'~': extrapolated by N ~ delta^-m.")
    code = EXIT_OK
    if target is not None:
        show = _progress_printer(not args.json)
        payload["certify_target"] = args.certify_target
        payload["smallest_certified"] = []
        for b in bounds:
            if not b.prefix_length_exact:
                raise InputError("--max-prefix-length", f"the {b.route} route asks for about N = "
                                 f"{b.prefix_length:.3g}, more than {args.max_prefix_length}; bisection "
                                 "needs a buildable start")
            if show:
                cap = f" and {args.time_limit:g} s" if args.time_limit is not None else ""
                show(f"{b.route}: bisection on N from {int(b.prefix_length)} (prove at most "
                     f"{args.max_cells} cells{cap} each)")
            res = smallest_certified(b.route, target, args.epsilon, args.lipschitz, int(b.prefix_length),
                                     max_cells=args.max_cells, time_limit=args.time_limit, progress=show)
            payload["smallest_certified"].append(res)
            if res["smallest_certified"] is None:
                code = EXIT_UNDECIDED
                lines.append(f"{b.route}: no prefix length up to {8 * int(b.prefix_length)} was certified")
            else:
                below = res["not_certified_below"]
                why = next((t["verdict"] for t in res["trials"] if t["prefix_length"] == below), "")
                lines.append(f"{b.route}: smallest certified N = {res['smallest_certified']} for "
                             f"{args.certify_target}" + (f" (N = {below}: {why})" if below else "") +
                             f", {len(res['trials'])} proofs, {res['seconds']:.1f} s")
    _emit(args, payload, lines)
    return code


def cmd_construct_seq(args) -> int:
    if args.kind is None:
        raise InputError("KIND", "choose 'elementwise' (Corollary 2) or 'ka' (depth-linear); see --help")
    return args.seq_func(args)


def cmd_seq_elementwise(args) -> int:
    from certify.constructions.prefixes import construct_net, construct_vmf
    from certify.formats.expressions import parse_target
    from certify.certifier.pipeline import CERTIFIED, REFUTED, decide
    from certify.formats.jsonio import write_json_atomic
    from certify.constructions.elementwise import elementwise_problem

    output = _check_output_path(args.output, "-o")
    cert_out = _check_output_path(args.certificate, "--certificate") if args.certificate else None
    if args.sphere_dim < 1:
        raise InputError("--sphere-dim", f"must be >= 1, got {args.sphere_dim}")
    if args.max_length < 1:
        raise InputError("--max-length", f"must be >= 1, got {args.max_length}")
    if args.max_cells < 1:
        raise InputError("--max-cells", f"must be >= 1, got {args.max_cells}")
    if args.time_limit is not None and not args.time_limit > 0:
        raise InputError("--time-limit", f"must be > 0, got {args.time_limit}")
    target = parse_target(args.target, args.sphere_dim, fieldname="--target")
    if args.method == "net":
        c = construct_net(target, args.epsilon, args.lipschitz, args.lam, args.prefix_length,
                          args.max_prefix_length)
    else:
        c = construct_vmf(target, args.epsilon, args.lipschitz, args.lam, args.prefix_length, "softmax",
                          args.max_prefix_length)
    problem = elementwise_problem(c.problem, args.max_length, args.causal)
    payload = {"output": str(output), "sha256": problem.sha256, "prefix_length": c.problem.prefix_length,
               "lambda": c.lam, "max_length": args.max_length, "causal": args.causal, "verdict": None}
    lines = [f"wrote {output}: the head of Lemma 3 with a {args.method} prefix of {c.problem.prefix_length} "
             f"tokens (lambda = {c.lam:.6g}), every sequence of length 1..{args.max_length}"
             + (" (causal)" if args.causal else "")]
    code = EXIT_OK
    d = None
    if not args.no_prove:
        d = decide(problem, max_cells=args.max_cells, time_limit=args.time_limit)
        r = d.result
        payload.update(verdict=r.verdict, lower=r.lower, upper=_finite_or_none(r.upper), cells=r.cells,
                       seconds=r.seconds)
        lines.append(f"  {r.verdict}: every position within {args.epsilon:g} of the target "
                     f"(sup error in [{_fmt(r.lower)}, {_fmt(r.upper)}], {r.cells} cells, {r.seconds:.2f} s)")
        code = {CERTIFIED: EXIT_OK, REFUTED: EXIT_REFUTED}.get(r.verdict, EXIT_UNDECIDED)
    _write(write_json_atomic, output, problem.to_json(), "-o")
    if cert_out is not None and d is not None and d.certificate is not None:
        _write(write_json_atomic, cert_out, d.certificate, "--certificate")
        payload["certificate"] = str(cert_out)
        lines.append(f"  certificate: {cert_out} (check it with: certify check {cert_out})")
    _emit(args, payload, lines)
    return code


def cmd_seq_ka(args) -> int:
    from certify.constructions.kolmogorov_arnold import EXAMPLES, construct, example
    from certify.formats.seqmap import parse_seqmap
    from certify.certifier.torus import torus_bound
    from certify.formats.jsonio import read_json, write_json_atomic

    output = _check_output_path(args.output, "-o")
    if (args.example is None) == (args.spec is None):
        raise InputError("--example", f"give --example NAME ({', '.join(EXAMPLES)}) or --spec SPEC.json, not both")
    if args.example is not None:
        if args.length is None:
            raise InputError("--length", "an example needs --length N")
        if args.epsilon is None:
            raise InputError("--epsilon", "an example needs --epsilon EPS")
        doc = example(args.example, args.length, args.epsilon)
    else:
        doc = read_json(args.spec, what="--spec")
        if args.epsilon is not None:
            doc = dict(doc, epsilon=args.epsilon) if isinstance(doc, dict) else doc
    spec = parse_seqmap(doc)
    if args.torus and spec.length != 2:
        raise InputError("--torus", "the torus branch-and-bound is for n = 2")
    for name, v in (("--max-cells", args.max_cells), ("--max-pairs", args.max_pairs)):
        if v < 1:
            raise InputError(name, f"must be >= 1, got {v}")
    if args.time_limit is not None and not args.time_limit > 0:
        raise InputError("--time-limit", f"must be > 0, got {args.time_limit}")
    show = _progress_printer(not args.json)
    r = construct(spec, progress=show, time_limit=args.time_limit, max_cells=args.max_cells)
    if args.torus:
        r.doc["torus"] = torus_bound(spec, r.doc, max_pairs=args.max_pairs, time_limit=args.time_limit,
                                     progress=show)
    _write(write_json_atomic, output, r.doc, "-o")
    arch = r.doc["architecture"]
    payload = {"output": str(output), "verdict": r.verdict, "bound": _finite_or_none(r.bound),
               "epsilon": spec.epsilon, "length": spec.length, "terms": spec.terms,
               "architecture": arch, "inner_error_mean": r.doc["inner_error_mean"],
               "outer_errors": [o["upper"] for o in r.doc["outer"]], "seconds": r.seconds,
               "torus": r.doc.get("torus")}
    lines = [f"{r.verdict}: sup over (S^1)^{spec.length} of |F - f| <= {_fmt(r.bound)} "
             f"(epsilon {spec.epsilon:g})",
             f"  transformer: {arch['layers']} layers x {arch['heads_per_layer']} head, width {arch['width']}, "
             f"{spec.terms} terms; only the prefixes depend on f",
             f"  inner head: mean certified error {_fmt(r.doc['inner_error_mean'])} over {spec.length} positions",
             "  outer heads: " + ", ".join(_fmt(o["upper"]) for o in r.doc["outer"])]
    if "torus" in r.doc:
        t = r.doc["torus"]
        lines.append(f"  torus branch-and-bound (direct, n = 2): {_fmt(t['bound'])} "
                     f"({t['pairs']} cell pairs, {t['seconds']:.1f} s)")
    lines.append(f"  wrote {output} in {r.seconds:.1f} s (check it with: certify check {output})")
    _emit(args, payload, lines)
    return EXIT_OK if r.verdict == "CERTIFIED" else EXIT_UNDECIDED


def cmd_audit(args) -> int:
    import tempfile

    from certify.report.audit import REPORT, compare_reports, print_summary, run_audit
    from certify.formats.jsonio import read_json

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InputError("--out", f"{out} exists and is not a folder")
    show = _progress_printer(not args.json)
    if args.check:
        committed = out / f"{REPORT}.json"
        if not committed.is_file():
            raise InputError("--out", f"no {committed} to check against; run certify audit first")
        old = read_json(committed, what="audit")
        if not (isinstance(old, dict) and isinstance(old.get("results"), list)
                and all(isinstance(r, dict) and {"key", "label", "verdict"} <= set(r) for r in old["results"])):
            raise InputError("--out", f"{committed} is not an audit report (no results with key, label, verdict)")
        with tempfile.TemporaryDirectory() as tmp:
            doc = run_audit(tmp, show)
        diff = compare_reports(old, doc)
        changed = diff["changed"]
        payload = {"up_to_date": not changed, "changed": changed, "differences": diff["differences"],
                   "evidence_differences": diff["evidence"], "seconds": doc["seconds"]}
        lines = [f"{committed}: " + ("up to date (every verdict, statement and table reproduced)" if not changed
                                     else "OUT OF DATE: " + ", ".join(changed))]
        lines += [f"  {line}" for line in diff["differences"]]
        if diff["evidence"]:
            lines.append("  evidence that differs with the same verdict (not a change of verdict):")
            lines += [f"    {line}" for line in diff["evidence"]]
        _emit(args, payload, lines)
        return EXIT_OK if not changed else EXIT_REFUTED
    doc = run_audit(out, show)
    if args.json:
        print(json.dumps(doc, indent=1, allow_nan=False, default=_json_default))
    else:
        print(f"certify audit: wrote {out / (REPORT + '.md')}, {out / (REPORT + '.html')}, "
              f"{out / (REPORT + '.json')} and 4 figures")
        print_summary(doc)
    return EXIT_OK


def cmd_demo(args) -> int:
    from certify.report.demo import run_demo

    code = run_demo(json_output=args.json, out_dir=args.out_dir)
    if args.no_audit or code != EXIT_OK:
        return code
    if not args.json:
        print(f"\ncertify audit (the paper's claims; report in {args.audit_out}/):", flush=True)
    if args.json:
        from certify.report.audit import run_audit

        run_audit(args.audit_out)  # the demo's JSON stays one object; the audit goes to its files
        return EXIT_OK
    return cmd_audit(argparse.Namespace(out=args.audit_out, check=False, json=False))


# ---------------------------------------------------------------------------------- parser

def _add_budget_options(p, cells: int, per: str = "") -> None:
    """--max-cells (the work budget that decides UNDECIDED) and --time-limit (an extra cap)."""
    p.add_argument("--max-cells", type=int, default=cells, metavar="K",
                   help=f"cells {per}to bound at most before answering UNDECIDED (default {cells}); "
                        "the verdict depends only on the input and this budget")
    p.add_argument("--time-limit", type=float, default=None, metavar="S",
                   help=f"seconds {per}at most: an extra wall-clock cap (default none); a verdict it "
                        "cuts short depends on the host's speed and load")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="certify",
        description="Prefix-tuned attention heads as universal approximators on the sphere S^m: "
                    "reference heads, the paper's prefix constructions, problem files, estimates.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"certify {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="on an internal error (exit 4) print the traceback (also accepted after COMMAND)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "construct", help="build a prefix for a target and write a problem file",
        description="Build a prefix whose head approximates the target on S^m and write it as a "
                    "problem file (certify.problem/1). 'net' (ours, THEORY 3.3): softmax head on a "
                    "delta-net; 'vmf' (the paper's route, THEORY 3.1): von Mises-Fisher quadrature on "
                    "Leopardi's equal-area partition. Parameters come from the derived constants "
                    "unless --lam / --prefix-length are given.",
        epilog='example:\n  certify construct --target "x0*x1" --target "exp(x2) - 1" --sphere-dim 2 '
               '--epsilon 0.3 --method net -o p.json',
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--target", action="append", required=True, metavar="EXPR",
                   help="target component over x0..xm (repeat for vector targets)")
    p.add_argument("--sphere-dim", type=int, required=True, metavar="M", help="m: inputs lie on S^m")
    p.add_argument("--epsilon", type=float, required=True, metavar="EPS", help="wanted sup-norm error")
    p.add_argument("--method", choices=["net", "vmf"], default="net")
    p.add_argument("--head", choices=["core", "softmax"], default=None,
                   help="vmf only: core (un-normalised, default) or softmax head")
    p.add_argument("--lipschitz", type=float, metavar="L",
                   help="chordal Lipschitz constant of every component (estimated by sampling if absent)")
    p.add_argument("--lam", type=float, metavar="LAMBDA", help="inverse temperature lambda (default: derived)")
    p.add_argument("--prefix-length", type=int, metavar="N", help="number of prefix tokens (default: derived)")
    p.add_argument("--max-prefix-length", type=int, default=200_000, metavar="N",
                   help="refuse derived constants needing more prefix tokens (default 200000)")
    p.add_argument("-o", "--output", required=True, metavar="PROBLEM.json")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_construct)

    p = sub.add_parser(
        "construct-seq", help="sequence maps: element-wise (Corollary 2) or depth-linear (Kolmogorov-Arnold)",
        description="Build and certify prefixed constructions for sequences. 'elementwise': the head of "
                    "Lemma 3 with one prefix maps every sequence of length 1..N position by position; "
                    "writes a sequence problem and proves it. 'ka': a target given in Kolmogorov-Arnold form "
                    "f = sum_q chi_q(sum_p psi_{p,q}(x_p)) on (S^1)^n, realised by a transformer of depth "
                    "2 + Q whose weights depend only on (n, Q); every head is certified and the end-to-end "
                    "error is bounded rigorously.",
        epilog="examples:\n  certify construct-seq elementwise --target 'x0*x1' --sphere-dim 1 --epsilon 0.1 "
               "--max-length 64 -o seq.json --certificate seq.cert.json\n"
               "  certify construct-seq ka --example product --length 2 --epsilon 0.05 --torus -o ka2.json\n"
               "  certify construct-seq ka --spec map.json -o map.cert.json --json",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.set_defaults(func=cmd_construct_seq, kind=None)
    seq = p.add_subparsers(dest="kind", metavar="KIND")
    e = seq.add_parser("elementwise", help="Corollary 2: one prefix, every position of every sequence",
                       description="Construct a prefix for g: S^m -> R^o (net or vmf route), place it in the "
                                   "head of Lemma 3 and prove that every position of every sequence of "
                                   "length 1..N is within epsilon (exit 0 CERTIFIED, 1 REFUTED, 3 UNDECIDED).",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    e.add_argument("--target", action="append", required=True, metavar="EXPR",
                   help="one output component of g (repeat for vector targets)")
    e.add_argument("--sphere-dim", type=int, required=True, metavar="M")
    e.add_argument("--epsilon", type=float, required=True)
    e.add_argument("--max-length", type=int, required=True, metavar="N", help="the longest sequence")
    e.add_argument("--causal", action="store_true", help="causal attention (same counts of tokens, same claim)")
    e.add_argument("--method", choices=["net", "vmf"], default="net", help="prefix construction (default net)")
    e.add_argument("--lipschitz", type=float, default=None, metavar="L")
    e.add_argument("--lam", type=float, default=None)
    e.add_argument("--prefix-length", type=int, default=None, metavar="N")
    e.add_argument("--max-prefix-length", type=int, default=200_000, metavar="N",
                   help="refuse derived constants needing more prefix tokens (default 200000)")
    _add_budget_options(e, DEFAULT_MAX_CELLS)
    e.add_argument("--no-prove", action="store_true", help="only write the problem")
    e.add_argument("-o", "--output", required=True, metavar="PROBLEM.json")
    e.add_argument("--certificate", metavar="CERT.json", help="write the certificate here")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.set_defaults(seq_func=cmd_seq_elementwise)
    k = seq.add_parser("ka", help="depth-linear construction from a Kolmogorov-Arnold form",
                       description="Realise f(x_1..x_n) = sum_q chi_q(sum_p psi_{p,q}(x_p)), x_p on S^1, by "
                                   "prefixes of a fixed transformer (inner head, uniform summing head, Q outer "
                                   "heads; 2 + Q layers). Writes a certify.seqmap-certificate/1 document that "
                                   "'certify check' re-checks. Exit 0 when the end-to-end bound is <= epsilon, "
                                   "3 otherwise. Spec format (certify.seqmap/1): {\"format\": "
                                   "\"certify.seqmap/1\", \"length\": n, \"epsilon\": e, \"terms\": "
                                   "[{\"inner\": [n expressions in x0, x1], \"outer\": \"expression in s\"}]}.",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    k.add_argument("--example", default=None, metavar="NAME", help="product, power-sum or smooth-max")
    k.add_argument("--length", type=int, default=None, metavar="N", help="sequence length of an example")
    k.add_argument("--spec", default=None, metavar="SPEC.json", help="a certify.seqmap/1 file")
    k.add_argument("--epsilon", type=float, default=None, help="epsilon (required with --example)")
    k.add_argument("--torus", action="store_true", help="n = 2: also bound the whole network over S^1 x S^1 "
                                                        "by branch-and-bound over cell pairs")
    k.add_argument("--max-cells", type=int, default=DEFAULT_MAX_CELLS, metavar="K",
                   help=f"cells per inner-head proof (default {DEFAULT_MAX_CELLS}); the verdict depends "
                        "only on the input and this budget")
    k.add_argument("--max-pairs", type=int, default=DEFAULT_MAX_PAIRS, metavar="K",
                   help=f"cell pairs of the --torus bound (default {DEFAULT_MAX_PAIRS}); the bound depends "
                        "only on the input and this budget")
    k.add_argument("--time-limit", type=float, default=None, metavar="S",
                   help="seconds per inner-head proof and for the --torus bound: an extra wall-clock "
                        "cap (default none); a verdict it cuts short depends on the host's speed and load")
    k.add_argument("-o", "--output", required=True, metavar="CERT.json")
    k.add_argument("--json", action="store_true", help="print one JSON object")
    k.set_defaults(seq_func=cmd_seq_ka)

    p = sub.add_parser(
        "eval", help="evaluate a problem's head at points on the sphere",
        description="Evaluate the head of PROBLEM.json at unit points X (B x (m+1), .npy) and write "
                    "the outputs (B x o, .npy). Points farther than 1e-9 from the unit sphere are refused.",
        epilog="example:\n  certify eval p.json --points X.npy --out Y.npy",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("problem", metavar="PROBLEM.json")
    p.add_argument("--points", required=True, metavar="X.npy")
    p.add_argument("--out", required=True, metavar="Y.npy")
    p.add_argument("--tokens", type=int, default=None, metavar="N",
                   help="sequence problems: the output of a query that sees N input tokens, itself "
                        "included (a position of a length-N sequence; default 1)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser(
        "estimate", help="NON-RIGOROUS estimate of the sup error by sampling",
        description="Estimate sup_x max_i |H_i(x) - f_i(x)| by dense sampling plus local "
                    "refinement. This is a lower estimate, NOT a certificate: a narrow bad region "
                    "between samples can be missed.",
        epilog="example:\n  certify estimate p.json --samples 50000 --json",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("problem", metavar="PROBLEM.json")
    p.add_argument("--samples", type=int, default=20000, help="sample points (default 20000)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_estimate)

    p = sub.add_parser(
        "prove", help="decide (rigorously) whether a problem's head meets its epsilon on all of S^m",
        description="Decide sup_{x in S^m} max_i |H_i(x) - f_i(x)| <= epsilon by adaptive "
                    "branch-and-bound over the cubed sphere with outward-rounded interval bounds. "
                    "CERTIFIED (exit 0) writes a certificate with -o; REFUTED (exit 1) gives a witness "
                    "point whose error is rigorously above epsilon; UNDECIDED (exit 3) when the budget "
                    "runs out; exit 4 is an internal error, never a verdict. Every answer carries a rigorous enclosure [lower, upper] of the sup error.",
        epilog="examples:\n  certify prove p.json -o p.cert.json\n"
               "  certify prove p.json --accuracy 0.01 --json     # compute the sup to 1%\n"
               "  certify prove p.json --max-cells 200000\n\n"
               "The verdict, enclosure and certificate depend only on the problem and the budget\n"
               "(--max-cells, --accuracy, --method), whatever the machine's load. --time-limit is\n"
               "an extra cap; a verdict it cuts short depends on the host's speed and load.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("problem", metavar="PROBLEM.json")
    p.add_argument("-o", "--output", metavar="CERT.json", help="write the certificate here (CERTIFIED or REFUTED)")
    _add_budget_options(p, DEFAULT_MAX_CELLS)
    p.add_argument("--accuracy", type=float, default=None, metavar="A",
                   help="refine until upper/lower - 1 < A: compute the sup error, not only decide")
    p.add_argument("--method", choices=["taylor3", "lipschitz"], default=None,
                   help="cell bound (default: taylor3, or lipschitz for heads whose query attends to itself)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_prove)

    p = sub.add_parser(
        "check", help="re-check certificates independently of the search",
        description="Re-check a certificate (or every certificate under a folder) from scratch: the "
                    "embedded problem and its SHA-256, the partition's tiling, a rigorous bound on "
                    "every leaf, the witness. Exit 0 when all are valid, 1 when one is invalid (the "
                    "field and leaf are named), 2 when a file cannot be read or is not a certificate "
                    "(a folder is searched for *.json files whose format is certify.certificate/1 or "
                    "certify.seqmap-certificate/1; other files are skipped and counted), 4 on an "
                    "internal error (a fault of the checker or the host: never reported as INVALID). "
                    "For a sequence-map certificate VALID covers the end-to-end bound; a recorded torus "
                    "bound (construct-seq ka --torus) is NOT re-checked, and the report says so.",
        epilog="examples:\n  certify check p.cert.json --problem p.json\n  certify check certificates/ --json\n"
               "  certify check p.cert.json --strict      # transcendental functions in Arb balls",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("certificate", metavar="CERT.json|DIR")
    p.add_argument("--problem", metavar="PROBLEM.json", help="also require the certificate to be about this problem")
    p.add_argument("--strict", action="store_true",
                   help="evaluate every exp/log/sin/... as an Arb ball (python-flint) instead of the "
                        "kernel's own enclosures: a second, independent algorithm; slow")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser(
        "claim", help="check an inequality over a box: VERIFIED ON RANGE, REFUTED, or UNDECIDED",
        description="Check 'forall v in [a, b], ...: LHS op RHS' (op one of <=, >=, <, >) by Arb ball "
                    "branch-and-bound over the box (python-flint). Sides use numbers, the quantified "
                    "variables, pi, + - * / **, and exp log sqrt sin cos tan sinh cosh tanh atan abs "
                    "coth gamma besseli(nu, x) min max. VERIFIED ON RANGE (exit 0): every sub-box was "
                    "certainly fine; REFUTED (exit 1): an exact rational witness where the claim is "
                    "certainly false; UNDECIDED (exit 3): the budget ran out, or the claim is tight "
                    "(equality somewhere) in a way intervals cannot settle. With --file, one claim per "
                    "line ('#' starts a comment); the exit code is the worst verdict.",
        epilog="examples:\n"
               "  certify claim \"forall lam in [0.1, 50]: besseli(1, lam)/besseli(0, lam) >= "
               "lam/(1/2 + sqrt(lam**2 + 9/4))\"\n"
               "  certify claim \"forall lam in [0.5, 1000]: besseli(1, lam)/besseli(0, lam) >= 1 - 1/(2*lam)\"\n"
               "  certify claim --file claims.txt --json",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("claim", nargs="?", metavar="CLAIM", help="the claim, quoted")
    p.add_argument("--file", metavar="FILE", help="read claims from FILE, one per line")
    p.add_argument("--max-boxes", type=int, default=DEFAULT_MAX_BOXES, metavar="K",
                   help=f"boxes per claim at most before UNDECIDED (default {DEFAULT_MAX_BOXES})")
    p.add_argument("--time-limit", type=float, default=None, metavar="S",
                   help="seconds per claim: an extra wall-clock cap (default none); the verdict "
                        "depends only on the claim and --max-boxes unless this cuts it short")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_claim)

    p = sub.add_parser(
        "bound", help="Jackson-type calculator: lambda and prefix length N for a precision",
        description="For inputs on S^m, precision EPS and an L-Lipschitz target (chordal metric) with "
                    "|f|_inf <= F, print the inverse temperature lambda, covering radius delta and prefix "
                    "length N that the explicit constants of each route ask for: 'paper' (the vMF quadrature "
                    "route of the paper, THEORY 3.1, with our derived constants) and 'net' (the delta-net of "
                    "THEORY 3.3, ours), and the paper's asymptotic exponent 10 + 14m + 4m^2 (Theorem 4, "
                    "constants unknown) for comparison. With --certify-target, bisect on N for the smallest "
                    "prefix length whose construction certify prove CERTIFIES (exit 3 if none is).",
        epilog="examples:\n"
               "  certify bound --sphere-dim 2 --epsilon 0.1 --lipschitz 1\n"
               "  certify bound --sphere-dim 1 --epsilon 0.1 --lipschitz 1 --route net --certify-target 'x0*x1'\n"
               "  certify bound --sphere-dim 4 --epsilon 0.5 --lipschitz 1 --json",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sphere-dim", type=int, required=True, metavar="M", help="m: inputs lie on S^m")
    p.add_argument("--epsilon", type=float, required=True, metavar="EPS", help="wanted sup-norm error")
    p.add_argument("--lipschitz", type=float, required=True, metavar="L", help="chordal Lipschitz constant of f")
    p.add_argument("--sup-norm", type=float, default=None, metavar="F",
                   help="bound on |f|_inf (osc(f) <= 2F); default 1, or sampled from --certify-target")
    p.add_argument("--route", choices=["paper", "net"], default=None, help="one route (default: both)")
    p.add_argument("--certify-target", default=None, metavar="EXPR",
                   help="also find the smallest certified prefix length for this target (bisection on N)")
    _add_budget_options(p, BISECTION_MAX_CELLS, per="per certify prove in the bisection ")
    p.add_argument("--max-prefix-length", type=int, default=200_000, metavar="N",
                   help="largest partition built exactly; beyond it N is extrapolated (default 200000)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_bound)

    p = sub.add_parser(
        "demo", help="construct prefixes for a built-in target on S^2 and report",
        description="Construct prefixes for the built-in target f(x) = x0*x1 on S^2 with both "
                    "methods, decide each with certify prove and re-check its certificate, and print a "
                    "table: prefix length, lambda, a-priori bound, estimated error, verdict, rigorous "
                    "enclosure, time; then run the audit. Each proof has a cell budget (no time limit), so "
                    "the verdicts do not depend on the machine's load. Needs no arguments.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out-dir", default=None, metavar="DIR",
                   help="also write the constructed problem files here")
    p.add_argument("--audit-out", default="reports", metavar="DIR",
                   help="folder of the audit run at the end (default reports)")
    p.add_argument("--no-audit", action="store_true", help="skip the audit at the end")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser(
        "audit", help="audit the paper's claims: run every check in proofs/ and write the report",
        description="Run every result registered in proofs/ (definitions, lemmas, theorems, the derived "
                    "constants) and write DIR/paper-audit.md, .html and .json with four figures: a table of "
                    "each claim with its label, statement, provenance (paper / derived), verdict (PROVED, "
                    "VERIFIED ON RANGE, REFUTED, CONSISTENT, NOT CHECKED), evidence and time. Takes about a "
                    "minute. Every search behind a verdict stops on a work budget (cells, Arb boxes, cell "
                    "pairs), never on the clock, so the verdicts, statements and tables do not depend on the "
                    "machine's load; only the times differ. With --check, rerun into a temporary folder and "
                    "compare with DIR/paper-audit.json: exit 0 if it is up to date, 1 if a verdict, statement "
                    "or table changed, each change printed as old -> new (evidence that differs with the "
                    "same verdict is listed, not counted as a change).",
        epilog="examples:\n  certify audit\n  certify audit --out /tmp/audit\n  certify audit --check",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="reports", metavar="DIR", help="output folder (default reports)")
    p.add_argument("--check", action="store_true", help="compare a fresh run with DIR/paper-audit.json")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_audit)
    # --debug after the command too; SUPPRESS keeps a global --debug from being reset
    for command in [*sub.choices.values(), *seq.choices.values()]:
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                             help="on an internal error (exit 4) print the traceback")
    return parser


def _subparser(parser: argparse.ArgumentParser, args) -> argparse.ArgumentParser:
    """The (sub)parser of the command that was chosen, for its own usage line."""
    found = parser
    for dest in ("command", "kind"):
        name = getattr(args, dest, None)
        actions = [a for a in found._actions if isinstance(a, argparse._SubParsersAction)]
        if name is None or not actions or name not in actions[0].choices:
            break
        found = actions[0].choices[name]
    return found


def _silence_stdout() -> None:
    """After a closed pipe (``certify ... | head``): send the rest of stdout to /dev/null, as
    Python's documentation recommends, so that the interpreter's final flush stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        # stdout is no file descriptor (a stream replaced in-process): replace the stream
        sys.stdout = open(os.devnull, "w", encoding="utf-8")


def _remove_outputs(paths: list[Path]) -> None:
    for path in paths:
        try:
            path.unlink()
        except OSError:
            pass


def main(argv: list[str] | None = None) -> int:
    try:
        return _run(argv)
    except BrokenPipeError:
        # the reader of stdout went away before the answer was printed in full
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except SystemExit:
        # argparse printed help, a version or a usage error: flush it here, where a
        # closed pipe can still be silenced, not in the interpreter's final flush
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            _silence_stdout()
        raise


def _run(argv: list[str] | None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        _subparser(parser, args).error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command is None:
        parser.print_help()
        return EXIT_BAD_INPUT
    name = " ".join(filter(None, [args.command, getattr(args, "kind", None)]))
    _WRITTEN.clear()
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            # numpy's overflow/invalid/divide warnings are no message for a user: every
            # command checks finiteness itself and says what is not finite
            warnings.simplefilter("ignore", RuntimeWarning)
            code = args.func(args)
        sys.stdout.flush()
        return code
    except InputError as exc:
        _remove_outputs(_WRITTEN)
        print(f"certify {name}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        _remove_outputs(_WRITTEN)
        print("certify: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        raise  # main() silences stdout; output files already written stay (the answer was decided)
    except Exception as exc:  # every other exception is a fault, never an answer
        _remove_outputs(_WRITTEN)
        if args.debug:
            traceback.print_exc()
        text = " ".join(str(exc).split())
        text = text if len(text) <= 300 else text[:297] + "..."
        print(f"certify {name}: internal error: {type(exc).__name__}" + (f": {text}" if text else "")
              + " (no output written; rerun with --debug for the traceback)", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
