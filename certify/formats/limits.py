"""Size limits of user expressions and claims (imports nothing: the sympy-free claim fast
path, :mod:`certify.claims.light`, and the whitelist parser, :mod:`certify.formats.expressions`,
share them)."""

#: Longest accepted expression string; longer strings are refused before parsing.
MAX_LENGTH = 4000
#: Largest number of syntax-tree nodes; bounds the work of building the sympy object.
MAX_NODES = 2000
#: Deepest nesting of the syntax tree; keeps the recursive walk far from Python's limit.
MAX_DEPTH = 60
#: Largest |p| in ``base ** p``; stops exact integer blow-ups such as ``9**9**9``.
MAX_EXPONENT = 64
#: Most quantified variables in one claim (the box search is exponential in it).
MAX_VARIABLES = 8
#: Largest |box end| of a claim: box widths (up to twice this) and float samples stay finite.
MAX_BOX_END = 2 ** 1000
#: Largest |c| of a numeric constant c in gamma(c): gamma(172) overflows float64, and sympy
#: expands gamma of an integer or half-integer into an exact factorial.
MAX_GAMMA_ARGUMENT = 171
#: Most bits of the numerator or denominator of a constant sympy folds (1/10**600 is
#: fine; 1/10**4950 could not even be printed).
MAX_CONSTANT_BITS = 4000
