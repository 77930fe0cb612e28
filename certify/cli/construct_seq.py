"""``certify construct-seq``: sequence maps, element-wise (Corollary 2) or depth-linear
(Kolmogorov-Arnold)."""

from __future__ import annotations

import argparse
from pathlib import Path

from certify.budgets import DEFAULT_MAX_CELLS, DEFAULT_MAX_PAIRS
from certify.cli.options import add_budget_options, add_json_option, output_file, positive_float, positive_int
from certify.cli.output import emit, finite_or_none, fmt, progress_printer, write
from certify.errors import EXIT_OK, EXIT_REFUTED, EXIT_UNDECIDED, InputError


def add_parser(sub) -> argparse.ArgumentParser:
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
    p.set_defaults(func=run, kind=None)
    seq = p.add_subparsers(dest="kind", metavar="KIND")
    _add_elementwise(seq)
    _add_ka(seq)
    return p


def _add_elementwise(seq) -> None:
    e = seq.add_parser("elementwise", help="Corollary 2: one prefix, every position of every sequence",
                       description="Construct a prefix for g: S^m -> R^o (net or vmf route), place it in the "
                                   "head of Lemma 3 and prove that every position of every sequence of "
                                   "length 1..N is within epsilon (exit 0 CERTIFIED, 1 REFUTED, 3 UNDECIDED). "
                                   "The claim is for lengths up to --max-length only: a fixed prefix's "
                                   "outputs fade as n grows (Corollary 2 holds per maximal length).",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    e.add_argument("--target", action="append", required=True, metavar="EXPR",
                   help="one output component of g (repeat for vector targets)")
    e.add_argument("--sphere-dim", type=positive_int, required=True, metavar="M")
    # --epsilon, --lipschitz, --lam, --prefix-length, --max-prefix-length: checked by the construction
    e.add_argument("--epsilon", type=float, required=True)
    e.add_argument("--max-length", type=positive_int, required=True, metavar="N", help="the longest sequence")
    e.add_argument("--causal", action="store_true", help="causal attention (same counts of tokens, same claim)")
    e.add_argument("--method", choices=["net", "vmf"], default="net", help="prefix construction (default net)")
    e.add_argument("--lipschitz", type=float, default=None, metavar="L")
    e.add_argument("--lam", type=float, default=None)
    e.add_argument("--prefix-length", type=int, default=None, metavar="N")
    e.add_argument("--max-prefix-length", type=int, default=200_000, metavar="N",
                   help="refuse derived constants needing more prefix tokens (default 200000)")
    add_budget_options(e, DEFAULT_MAX_CELLS)
    e.add_argument("--no-prove", action="store_true", help="only write the problem")
    e.add_argument("-o", "--output", type=output_file, required=True, metavar="PROBLEM.json")
    e.add_argument("--certificate", type=output_file, metavar="CERT.json", help="write the certificate here")
    add_json_option(e)
    e.set_defaults(seq_func=run_elementwise)


def _add_ka(seq) -> None:
    k = seq.add_parser("ka", help="depth-linear construction from a Kolmogorov-Arnold form",
                       description="Realise f(x_1..x_n) = sum_q chi_q(sum_p psi_{p,q}(x_p)), x_p on S^1, by "
                                   "prefixes of a fixed transformer (inner head, uniform summing head, Q outer "
                                   "heads; 2 + Q layers). A term's outer map may be given per output position "
                                   "(a list of n expressions): then position i gets f_i = sum_q "
                                   "chi_{i,q}(sum_p psi_{p,q}(x_p)), a sequence-to-sequence map, and every "
                                   "position is certified. Writes a certify.seqmap-certificate/1 document that "
                                   "'certify check' re-checks. Exit 0 when the end-to-end bound is <= epsilon, "
                                   "3 otherwise. Spec format (certify.seqmap/1): {\"format\": "
                                   "\"certify.seqmap/1\", \"length\": n, \"epsilon\": e, \"terms\": "
                                   "[{\"inner\": [n expressions in x0, x1], \"outer\": \"expression in s\" or "
                                   "[n expressions in s]}]}.",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    k.add_argument("--example", default=None, metavar="NAME",
                   help="product, power-sum, smooth-max or moments (sequence to sequence: mean, variance, ...)")
    k.add_argument("--length", type=int, default=None, metavar="N", help="sequence length of an example")
    k.add_argument("--spec", default=None, metavar="SPEC.json", help="a certify.seqmap/1 file")
    k.add_argument("--epsilon", type=float, default=None, help="epsilon (required with --example)")
    k.add_argument("--torus", action="store_true", help="n = 2: also bound the whole network over S^1 x S^1 "
                                                        "by branch-and-bound over cell pairs")
    k.add_argument("--max-cells", type=positive_int, default=DEFAULT_MAX_CELLS, metavar="K",
                   help=f"cells per inner-head proof (default {DEFAULT_MAX_CELLS}); the verdict depends "
                        "only on the input and this budget")
    k.add_argument("--max-pairs", type=positive_int, default=DEFAULT_MAX_PAIRS, metavar="K",
                   help=f"cell pairs of the --torus bound (default {DEFAULT_MAX_PAIRS}); the bound depends "
                        "only on the input and this budget")
    k.add_argument("--time-limit", type=positive_float, default=None, metavar="S",
                   help="seconds per inner-head proof and for the --torus bound: an extra wall-clock "
                        "cap (default none); a verdict it cuts short depends on the host's speed and load")
    k.add_argument("-o", "--output", type=output_file, required=True, metavar="CERT.json")
    add_json_option(k)
    k.set_defaults(seq_func=run_ka)


def run(args) -> int:
    if args.kind is None:
        raise InputError("KIND", "choose 'elementwise' (Corollary 2) or 'ka' (depth-linear); see --help")
    return args.seq_func(args)


def run_elementwise(args) -> int:
    from certify.certifier.pipeline import CERTIFIED, REFUTED, decide
    from certify.constructions.elementwise import elementwise_problem
    from certify.constructions.prefixes import construct
    from certify.formats.expressions import parse_target
    from certify.formats.jsonio import write_json_atomic

    output = Path(args.output)
    cert_out = Path(args.certificate) if args.certificate is not None else None
    target = parse_target(args.target, args.sphere_dim, fieldname="--target")
    c = construct(args.method, target, args.epsilon, args.lipschitz, args.lam, args.prefix_length,
                  "softmax", args.max_prefix_length)
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
        payload.update(verdict=r.verdict, lower=r.lower, upper=finite_or_none(r.upper), cells=r.cells,
                       seconds=r.seconds)
        lines.append(f"  {r.verdict}: every position within {args.epsilon:g} of the target "
                     f"(sup error in [{fmt(r.lower)}, {fmt(r.upper)}], {r.cells} cells, {r.seconds:.2f} s)")
        code = {CERTIFIED: EXIT_OK, REFUTED: EXIT_REFUTED}.get(r.verdict, EXIT_UNDECIDED)
    write(write_json_atomic, output, problem.to_json(), "-o")
    if cert_out is not None and d is not None and d.certificate is not None:
        write(write_json_atomic, cert_out, d.certificate, "--certificate")
        payload["certificate"] = str(cert_out)
        lines.append(f"  certificate: {cert_out} (check it with: certify check {cert_out})")
    emit(args, payload, lines)
    return code


def run_ka(args) -> int:
    from certify.certifier.torus import torus_bound
    from certify.constructions.kolmogorov_arnold import EXAMPLES, construct, example
    from certify.formats.jsonio import read_json, write_json_atomic
    from certify.formats.seqmap import parse_seqmap

    output = Path(args.output)
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
    show = progress_printer(not args.json)
    r = construct(spec, progress=show, time_limit=args.time_limit, max_cells=args.max_cells)
    if args.torus:
        r.doc["torus"] = torus_bound(spec, r.doc, max_pairs=args.max_pairs, time_limit=args.time_limit,
                                     progress=show)
    write(write_json_atomic, output, r.doc, "-o")
    arch = r.doc["architecture"]
    payload = {"output": str(output), "verdict": r.verdict, "bound": finite_or_none(r.bound),
               "epsilon": spec.epsilon, "length": spec.length, "terms": spec.terms,
               "architecture": arch, "inner_error_mean": r.doc["inner_error_mean"],
               "outer_errors": [o["upper"] for o in r.doc["outer"]], "seconds": r.seconds,
               "torus": r.doc.get("torus"), "position_bounds": r.doc.get("position_bounds")}
    what = "max_i sup |F_i - f_i|" if spec.per_position else "sup |F - f|"
    lines = [f"{r.verdict}: {what} over (S^1)^{spec.length} <= {fmt(r.bound)} (epsilon {spec.epsilon:g})",
             f"  transformer: {arch['layers']} layers x {arch['heads_per_layer']} head, width {arch['width']}, "
             f"{spec.terms} terms; only the prefixes depend on f",
             f"  inner head: mean certified error {fmt(r.doc['inner_error_mean'])} over {spec.length} positions",
             "  outer heads: " + ", ".join(fmt(o["upper"]) for o in r.doc["outer"])
             + (" (the largest over the output positions)" if r.doc.get("position_bounds") else "")]
    if r.doc.get("position_bounds"):
        lines.insert(1, "  per output position: " + ", ".join(fmt(b) for b in r.doc["position_bounds"]))
    if "torus" in r.doc:
        t = r.doc["torus"]
        lines.append(f"  torus branch-and-bound (direct, n = 2): {fmt(t['bound'])} "
                     f"({t['pairs']} cell pairs, {t['seconds']:.1f} s)")
    lines.append(f"  wrote {output} in {r.seconds:.1f} s (check it with: certify check {output})")
    emit(args, payload, lines)
    return EXIT_OK if r.verdict == "CERTIFIED" else EXIT_UNDECIDED
