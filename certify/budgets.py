"""Work budgets: the defaults that decide when a search gives up (UNDECIDED).

Every search that reports a verdict stops on a count of work (cells, cell pairs), never on the
clock by default, so the same input gives the same verdict, enclosure and certificate on an idle
or a loaded machine, fast or slow. A ``time_limit`` / ``--time-limit`` is an optional extra cap;
a verdict it cuts short depends on the host and says so. This module imports nothing, so the
command line can show these defaults without loading the kernel.
"""

#: Cells ``certify prove`` bounds at most (``certify.certifier.search.prove``, ``--max-cells``; also each
#: inner-head proof of ``construct-seq``): about 1-2 minutes on one core for a head of a few
#: thousand keys on S^2 (about 2e4 cells/s) and about 100 MB of frontier and leaves. The largest
#: problem the audit proves (the net prefix for x0*x1 on S^2 at eps = 0.25) uses 3.2e5 cells.
DEFAULT_MAX_CELLS = 2_000_000

#: Cells per ``certify prove`` in the bisection of ``certify bound --certify-target``. The
#: audit's bisections (x0*x1 on S^1, eps = 0.4 .. 0.05) use at most 8.1e3 cells per trial; 2e5
#: leaves a 25x margin and keeps an undecided trial to seconds (a bisection runs up to ~20).
BISECTION_MAX_CELLS = 200_000

#: Boxes ``certify claim`` splits at most per claim (``certify.claims.search.check_claim``,
#: ``--max-boxes``). The audit's claims use at most 5.0e3 boxes; claims with touching or
#: exponentially small margins (Taylor-model suites) may need about 2e5.
DEFAULT_MAX_BOXES = 200_000

#: Cell pairs the torus branch-and-bound of ``construct-seq ka --torus`` bounds (about 3 s for
#: the n = 2 examples; the bound only tightens with more pairs, it never becomes unsound).
DEFAULT_MAX_PAIRS = 400_000

#: Largest partition (tree nodes) ``certify check`` accepts by default (``--max-nodes``): five
#: times DEFAULT_MAX_CELLS. A search of K bounded cells writes at most about K (1 + 2^-m) nodes
#: (a cell split two levels at once adds 2^m unbounded middle nodes for 4^m bounded ones), so
#: every certificate of a default budget fits; a larger one needs ``--max-nodes``.
MAX_CERTIFICATE_NODES = 5 * DEFAULT_MAX_CELLS
