"""``certify tune``: learn a prefix by optimisation, optionally certify it."""

from __future__ import annotations

import argparse
from pathlib import Path

from certify.cli.options import add_budget_options, add_json_option, epsilon_value, output_file, positive_int
from certify.cli.output import emit, finite_or_none, progress_printer, write
from certify.errors import EXIT_OK, EXIT_REFUTED, EXIT_UNDECIDED, InputError

DEFAULT_PROVE_CELLS = 200_000


def seed_value(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"must be in 0..2^63-1, got {text}")
    return value


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "tune", help="prefix-tune: optimise a prefix for a target, optionally certify it",
        description="Optimise the prefix of a head (keys, values and biases of the reduced softmax form by "
                    "default; the prefix tokens of a full-matrix head given by --head, such as the pretrained "
                    "head of Lemma 3 with --head lemma3; or the keys, values, biases of a reduced core head) "
                    "to minimise the sup error over S^m: scipy's L-BFGS-B with closed-form gradients on a "
                    "smooth maximum of the squared errors on a sample, with exchange steps that add the worst "
                    "points found, started from a construction (net layout by default). Writes the tuned "
                    "problem file (certify.problem/1; meta records the optimiser, seed and iterations). The "
                    "same seed gives the same prefix on the same host. Tuning proves nothing: --certify runs "
                    "certify prove on the result (prove -> write -> check) and exits with its verdict (0 "
                    "CERTIFIED, 1 REFUTED, 3 UNDECIDED); --search-length finds the smallest N whose tuned "
                    "prefix is CERTIFIED (doubling, then bisection) and reports the verdict just below it.",
        epilog="examples:\n"
               "  certify tune --target 'x0*x1' --sphere-dim 1 --epsilon 0.1 --prefix-length 8 -o t.json --certify\n"
               "  certify tune --target 'x0*x1' --sphere-dim 2 --epsilon 0.1 --search-length -o t.json\n"
               "  certify tune --target 'x0' --target 'x1**2' --sphere-dim 1 --epsilon 0.05 --prefix-length 6 "
               "--head lemma3 -o t.json --certify --json",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--target", action="append", required=True, metavar="EXPR",
                   help="target component over x0..xm (repeat for vector targets)")
    p.add_argument("--sphere-dim", type=positive_int, required=True, metavar="M", help="m: inputs lie on S^m")
    p.add_argument("--epsilon", type=epsilon_value, required=True, metavar="EPS", help="wanted sup-norm error")
    n = p.add_mutually_exclusive_group(required=True)
    n.add_argument("--prefix-length", type=positive_int, metavar="N", help="number of prefix tokens to tune")
    n.add_argument("--search-length", action="store_true",
                   help="find the smallest N whose tuned prefix is CERTIFIED (implies --certify)")
    p.add_argument("--head", default=None, metavar="HEAD.json",
                   help="the head to tune: a problem file or a head object (reduced core/softmax, or full-matrix; "
                        "a full head's prefix is the start when it has N tokens, else one is fitted), or 'lemma3'")
    p.add_argument("--start", choices=["net", "vmf"], default="net", help="start construction (default net)")
    p.add_argument("--certify", action="store_true", help="run certify prove on the tuned prefix")
    p.add_argument("--certificate", type=output_file, default=None, metavar="CERT.json",
                   help="with --certify: write the certificate here")
    p.add_argument("--seed", type=seed_value, default=0, help="seed of the samples, 0..2^63-1 (default 0)")
    p.add_argument("--rounds", type=positive_int, default=None, metavar="R",
                   help="optimisation rounds, each followed by an exchange step (default 6)")
    p.add_argument("--iterations", type=positive_int, default=None, metavar="K",
                   help="L-BFGS-B iterations per round (default 1000)")
    p.add_argument("--max-prefix-length", type=positive_int, default=None, metavar="N",
                   help="--search-length: largest N tried (default 1024)")
    add_budget_options(p, DEFAULT_PROVE_CELLS, per="per certify prove ")
    p.add_argument("-o", "--output", type=output_file, required=True, metavar="PROBLEM.json")
    add_json_option(p)
    p.set_defaults(func=run)
    return p


def _head(args, target):
    if args.head is None:
        return None
    from certify.constructions.tune import lemma3_head
    from certify.formats.jsonio import read_json

    if args.head == "lemma3":
        return lemma3_head(args.sphere_dim, target.out_dim)
    doc = read_json(args.head, what="--head")
    if isinstance(doc, dict) and "format" in doc:
        from certify.formats.problem import problem_from_dict

        p = problem_from_dict(doc)  # a problem file is validated whole
        if p.sequence is not None:
            raise InputError("--head", "a sequence problem cannot be tuned: tune its single head, then build the "
                                       "sequence problem (certify construct-seq elementwise)")
        if p.sphere_dim != args.sphere_dim:
            raise InputError("--head", f"the problem file is on S^{p.sphere_dim}, not S^{args.sphere_dim} "
                                       "(--sphere-dim)")
        doc = doc["head"]
    if not isinstance(doc, dict):
        raise InputError("--head", "expected a head object or a problem file")
    return doc


def run(args) -> int:
    from certify.constructions.tune import (DEFAULT_ITERATIONS, DEFAULT_ROUNDS, DEFAULT_SEARCH_MAX, search_length,
                                            start_problem, tune)
    from certify.formats.expressions import parse_target
    from certify.formats.jsonio import write_json_atomic

    target = parse_target(args.target, args.sphere_dim, fieldname="--target")
    head = _head(args, target)
    rounds, iterations = args.rounds or DEFAULT_ROUNDS, args.iterations or DEFAULT_ITERATIONS
    show = progress_printer(not args.json)
    if args.certificate and not (args.certify or args.search_length):
        raise InputError("--certificate", "needs --certify or --search-length")
    if args.max_prefix_length is not None and not args.search_length:
        raise InputError("--max-prefix-length", "is for --search-length")
    # the start is built first: a bad --head or --epsilon is refused before any tuning
    probe_n = args.prefix_length or 1
    start_problem(target, args.epsilon, probe_n, head, args.start)
    payload, lines = {"output": str(args.output)}, []
    decision = None
    code = EXIT_OK
    if args.search_length:
        res = search_length(target, args.epsilon, head, args.start, args.seed, rounds, iterations,
                            args.max_prefix_length or DEFAULT_SEARCH_MAX, args.max_cells, args.time_limit, show)
        payload.pop("output")
        payload.update(smallest_certified=res["smallest_certified"], not_certified_below=res["not_certified_below"],
                       below_verdict=res.get("below_verdict"), trials=res["trials"])
        if res["best"] is None:
            emit(args, payload, [f"no tuned prefix of up to {args.max_prefix_length or DEFAULT_SEARCH_MAX} tokens "
                                 f"was CERTIFIED at epsilon {args.epsilon:g} ({len(res['trials'])} trials); "
                                 "nothing written"])
            return EXIT_UNDECIDED
        t, decision = res["best"]
        payload["output"] = str(args.output)
        below = res["not_certified_below"]
        lines.append(f"smallest certified N = {res['smallest_certified']} for {', '.join(args.target)} at epsilon "
                     f"{args.epsilon:g}" + (f" (N = {below}: {res['below_verdict']})" if below else "")
                     + f", {len(res['trials'])} trials")
    else:
        p0 = start_problem(target, args.epsilon, args.prefix_length, head, args.start)
        t = tune(p0, seed=args.seed, rounds=rounds, iterations=iterations, progress=show)
        if args.certify:
            from certify.certifier.pipeline import decide

            decision = decide(t.problem, max_cells=args.max_cells, time_limit=args.time_limit)
    write(write_json_atomic, Path(args.output), t.problem.to_json(), "-o")
    payload.update(prefix_length=t.problem.prefix_length, head=t.problem.kind, sha256=t.problem.sha256,
                   estimated_sup_error_start=finite_or_none(t.estimate_before),
                   estimated_sup_error=finite_or_none(t.estimate_after), iterations=t.iterations,
                   sample_points=t.sample_points, seed=args.seed)
    lines += [f"wrote {args.output}: tuned prefix of {t.problem.prefix_length} tokens ({t.problem.kind} head"
              + (", full-matrix" if "embedding" in t.problem.canonical["head"] else "") + ")",
              f"  estimated sup error (sampling, NOT a proof): {t.estimate_before:.4g} at the start -> "
              f"{t.estimate_after:.4g} after {t.iterations} L-BFGS-B iterations (seed {args.seed})"]
    if decision is not None:
        r = decision.result
        payload.update(verdict=r.verdict, lower=r.lower, upper=finite_or_none(r.upper), cells=r.cells)
        lines.append(f"  certify prove: {r.verdict}, sup error in [{r.lower:.6g}, {r.upper:.6g}] "
                     f"({r.cells} cells{', re-checked' if decision.report is not None else ''})")
        if args.certificate and decision.certificate is not None:
            write(write_json_atomic, Path(args.certificate), decision.certificate, "--certificate")
            lines.append(f"  wrote the certificate {args.certificate} (certify check {args.certificate})")
        code = {"CERTIFIED": EXIT_OK, "REFUTED": EXIT_REFUTED}.get(r.verdict, EXIT_UNDECIDED)
    else:
        lines.append(f"  next: certify prove {args.output}")
    emit(args, payload, lines)
    return code
