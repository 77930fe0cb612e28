"""certify: machine-checkable universal approximation by prefix-tuned attention heads.

Reference attention (numpy), the prefix constructions of Petrov, Torr and Bibi (ICML 2024),
problem files, the certifier and its independent checker, and the ``certify`` command. The
folders are the stages of the data flow; ``kernel/``, ``formats/`` and ``checker/`` are the
trusted base (see README.md, "Contents").
"""

__version__ = "0.1.0"

#: The distributions every result depends on.
CORE_PACKAGES = ("numpy", "sympy", "python-flint")


def tool_versions(*packages: str) -> dict:
    """``{"name", "version", "python", <distribution>: <version>, ...}`` for the core
    distributions and ``packages``, as certificates and reports record them (informative: no
    verdict depends on it; "unknown" where a distribution's metadata is missing)."""
    import platform
    from importlib import metadata

    out = {"name": "certify-prefix", "version": __version__, "python": platform.python_version()}
    for dist in CORE_PACKAGES + packages:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "unknown"
    return out
