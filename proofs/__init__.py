"""One module per result of the paper (and of THEORY.md), each with its statement, its
provenance (the paper's, or derived here) and its checks; :mod:`proofs.registry` lists them."""
