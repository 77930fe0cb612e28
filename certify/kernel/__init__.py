"""Trusted base: rigorous arithmetic (outward-rounded numpy intervals, Arb bridge) and the
per-cell bounds that both the search and the independent checker rely on."""
