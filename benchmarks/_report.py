"""Shared by the benchmarks: append a dated section of results to a markdown file."""

from __future__ import annotations


def append_section(path: str, lines: list[str], echo: bool = True) -> None:
    """Append ``lines`` (one markdown section) to ``path``; print it too unless ``echo`` is off."""
    text = "\n".join(lines) + "\n"
    if echo:
        print(text)
    with open(path, "a") as fh:
        fh.write(text)


def run_in_tree(tree: str, code: str) -> dict:
    """Run ``code`` in a fresh process importing certify from the checkout ``tree`` (one thread);
    its last output line is JSON with the ``module`` it imported, checked to lie in ``tree``."""
    import json
    import os
    import subprocess
    import sys

    env = dict(os.environ, PYTHONPATH=tree, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=tree, capture_output=True, text=True, check=True)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    if not os.path.abspath(res["module"]).startswith(os.path.abspath(tree) + os.sep):
        raise SystemExit(f"{tree}: the run imported certify from {res['module']}")
    return res
