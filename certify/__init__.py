"""certify: machine-checkable universal approximation by prefix-tuned attention heads.

Reference attention (numpy), the prefix constructions of Petrov, Torr and Bibi (ICML 2024),
problem files and the ``certify`` command.
"""

__version__ = "0.1.0"
