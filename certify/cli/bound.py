"""``certify bound``: the Jackson-type calculator (lambda and prefix length N for a precision)."""

from __future__ import annotations

import argparse
import math

from certify.budgets import BISECTION_MAX_CELLS
from certify.cli.options import (add_budget_options, add_json_option, epsilon_value, lipschitz_value,
                                 positive_finite_float, positive_int)
from certify.cli.output import emit, progress_printer
from certify.errors import EXIT_OK, EXIT_UNDECIDED, InputError


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "bound", help="Jackson-type calculator: lambda and prefix length N for a precision",
        description="For inputs on S^m, precision EPS and an L-Lipschitz target (chordal metric) with "
                    "|f|_inf <= F, print the inverse temperature lambda, covering radius delta and prefix "
                    "length N that the explicit constants of each route ask for: 'stated' (the vMF quadrature "
                    "route of the paper with the constants as THEORY 3.1 states them, c|S^m| lambda e^lambda "
                    "delta), 'paper' (the same route with our sharper derived constants) and 'net' (the "
                    "delta-net of THEORY 3.3, ours), and the paper's asymptotic exponent 10 + 14m + 4m^2 (Theorem 4, "
                    "constants unknown) for comparison. With --certify-target, bisect on N for the smallest "
                    "prefix length whose construction certify prove CERTIFIES (exit 3 if none is); the bisection "
                    "runs for the paper and net routes ('stated' builds the paper route's prefix).",
        epilog="examples:\n"
               "  certify bound --sphere-dim 2 --epsilon 0.1 --lipschitz 1\n"
               "  certify bound --sphere-dim 1 --epsilon 0.1 --lipschitz 1 --route net --certify-target 'x0*x1'\n"
               "  certify bound --sphere-dim 4 --epsilon 0.5 --lipschitz 1 --json",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sphere-dim", type=positive_int, required=True, metavar="M", help="m: inputs lie on S^m")
    p.add_argument("--epsilon", type=epsilon_value, required=True, metavar="EPS", help="wanted sup-norm error")
    p.add_argument("--lipschitz", type=lipschitz_value, required=True, metavar="L",
                   help="chordal Lipschitz constant of f")
    p.add_argument("--sup-norm", type=lipschitz_value, default=None, metavar="F",
                   help="bound on |f|_inf (osc(f) <= 2F); default 1, or sampled from --certify-target")
    p.add_argument("--route", choices=["stated", "paper", "net"], default=None, help="one route (default: all three)")
    p.add_argument("--certify-target", default=None, metavar="EXPR",
                   help="also find the smallest certified prefix length for this target (bisection on N)")
    add_budget_options(p, BISECTION_MAX_CELLS, per="per certify prove in the bisection ",
                       time_limit=positive_finite_float)
    p.add_argument("--max-prefix-length", type=positive_int, default=200_000, metavar="N",
                   help="largest partition built exactly; beyond it N is extrapolated (default 200000)")
    add_json_option(p)
    p.set_defaults(func=run)
    return p


def _power_text(base: float, exponent: int) -> str:
    """base**exponent for printing, through logarithms when it overflows float64."""
    try:
        return f"{base ** exponent:.3g}"
    except OverflowError:
        log10 = exponent * math.log10(base)
        whole = math.floor(log10)
        return f"{10 ** (log10 - whole):.3g}e+{whole}"


def run(args) -> int:
    from certify.constructions.prefix_length import BUILT_ROUTES, ROUTES, paper_exponent, route_bound, smallest_certified
    from certify.constructions.prefixes import _range_bounds
    from certify.formats.expressions import parse_target

    routes = [args.route] if args.route else list(ROUTES)
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
        n = b.prefix_length_text
        lines.append(f"{b.route:<7} {b.lam:>10.4g} {b.delta:>10.3g} {n:>18} {b.a_priori_bound:>9.3g}  N ~ {b.exponent}")
    lines.append(f"paper (Theorem 4): N = O(eps^-{e}) with unknown constants; eps^-{e} = "
                 f"{_power_text(args.epsilon, -e)} (shape only)")
    lines.append("stated: the paper's route with THEORY 3.1's constants; paper: the same route with our derived "
                 "constants; net: ours (THEORY 3.3). '~': extrapolated by N ~ delta^-m.")
    code = EXIT_OK
    if target is not None:
        show = progress_printer(not args.json)
        payload["certify_target"] = args.certify_target
        payload["smallest_certified"] = []
        for b in (b for b in bounds if b.route in BUILT_ROUTES):
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
    emit(args, payload, lines)
    return code
