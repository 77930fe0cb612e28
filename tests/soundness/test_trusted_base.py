"""The trusted base rests only on IEEE 754 operations that every binary64 host rounds
correctly: no numpy, math or libm transcendental function, and no float ``**`` (Python's
float power calls the C library's pow).

Two checks: a static one over the source of the trusted modules (it fails as soon as such a
call is added), and a dynamic one: with every numpy/math transcendental function replaced
by a version off by 8 ulps (in either direction, varying by input), ``prove`` and ``check``
give the same verdicts and enclosures, and the certificates written without the
perturbation still check."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2] / "certify"
#: The trusted base: the folders (and shared top-level modules) whose code a CERTIFIED,
#: REFUTED or VALID answer rests on.
TRUSTED_FOLDERS = ("kernel", "formats", "checker")
TRUSTED_TOP = ("__init__.py", "errors.py", "budgets.py")
TRUSTED = sorted(p for d in TRUSTED_FOLDERS for p in (ROOT / d).glob("*.py")) + [ROOT / n for n in TRUSTED_TOP]
#: The part only a sequence-map certificate's answer rests on (the spec, its checker and the
#: bound for heads on a line); a head certificate's answer rests on the rest.
SEQUENCE_MAP_PART = (ROOT / "formats" / "seqmap.py", ROOT / "checker" / "sequence_map.py",
                     ROOT / "kernel" / "linebound.py")

TRANSCENDENTAL = {"exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "logaddexp", "logaddexp2",
                  "sin", "cos", "tan", "arcsin", "arccos", "arctan", "arctan2", "asin", "acos", "atan",
                  "atan2", "sinh", "cosh", "tanh", "arcsinh", "arccosh", "arctanh", "asinh", "acosh",
                  "atanh", "power", "float_power", "pow", "hypot", "cbrt", "sinc", "i0", "erf", "erfc",
                  "gamma", "lgamma"}


def _violations(path: Path):
    return _violations_in(ast.parse(path.read_text()), path.name)


def _violations_in(tree, name: str):
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and node.value.id in ("np", "numpy", "math") and node.attr in TRANSCENDENTAL:
            found.append(f"{name}:{node.lineno}: {node.value.id}.{node.attr}")
        elif isinstance(node, ast.ImportFrom) and node.module in ("numpy", "math"):
            bad = [a.name for a in node.names if a.name in TRANSCENDENTAL or a.name == "*"]
            if bad:
                found.append(f"{name}:{node.lineno}: from {node.module} import {bad}")
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            floats = [o for o in (node.left, node.right)
                      if isinstance(o, ast.Constant) and isinstance(o.value, float)]
            if floats:
                found.append(f"{name}:{node.lineno}: float ** (library pow)")
    return found


def test_trusted_modules_call_no_transcendental_library_function():
    assert len(TRUSTED) >= 8
    found = [v for p in TRUSTED for v in _violations(p)]
    assert not found, "the trusted base calls library transcendental functions:\n" + "\n".join(found)


def test_the_static_check_can_fail(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import numpy as np\nimport math\nfrom numpy import exp\n"
                   "y = np.exp(1.0) + math.log(2.0) + 2.0 ** 0.5\n")
    assert len(_violations(bad)) == 4


def _off_by_ulps(fn, ulps=8):
    """fn's result moved by up to ``ulps`` ulps, the direction depending on the input."""
    def wrapped(*args, **kwargs):
        y = fn(*args, **kwargs)
        arr = np.asarray(y, dtype=np.float64)
        steps = (np.abs(np.asarray(args[0], dtype=np.float64) * 1e6).astype(np.int64) % (2 * ulps + 1)) - ulps \
            if np.all(np.isfinite(np.asarray(args[0], dtype=np.float64))) else np.int64(ulps)
        out = arr + steps * np.spacing(np.abs(arr))
        return out if isinstance(y, np.ndarray) else float(out) if np.ndim(out) == 0 else out
    return wrapped


def _problems():
    from certify.constructions.prefixes import construct_vmf
    from certify.formats.expressions import parse_target

    cases = [("x0**2", 1, 20.0, 40, 0.06), ("sin(x0) + exp(x1)/4", 1, 20.0, 40, 0.08),
             ("x0**2", 1, 20.0, 40, 0.02), ("x0*x1", 2, 30.0, 200, 0.1),
             ("tanh(x0) + atan(x1)/2", 2, 30.0, 200, 0.001)]
    out = []
    for text, m, lam, n, eps in cases:
        t = parse_target([text], m)
        out.append(construct_vmf(t, eps, 2.0, lam=lam, prefix_length=n, kind="softmax").problem)
    return out


@pytest.mark.slow
def test_prove_and_check_do_not_depend_on_library_accuracy(monkeypatch):
    from certify.certifier.writer import build_certificate
    from certify.checker.head import check_document
    from certify.certifier.search import prove

    problems = _problems()
    plain = [prove(p, max_cells=400_000) for p in problems]
    docs = [build_certificate(p, r) if r.verdict != "UNDECIDED" else None for p, r in zip(problems, plain)]
    assert {r.verdict for r in plain} >= {"CERTIFIED", "REFUTED"}
    for name in ("exp", "log", "sin", "cos", "tan", "sinh", "cosh", "tanh", "arctan", "power", "exp2", "log2"):
        monkeypatch.setattr(np, name, _off_by_ulps(getattr(np, name)))
    for name in ("exp", "log", "sin", "cos", "tan", "sinh", "cosh", "tanh", "atan", "pow"):
        monkeypatch.setattr(math, name, _off_by_ulps(getattr(math, name)))
    for p, r, doc in zip(problems, plain, docs):
        again = prove(p, max_cells=400_000)
        assert again.verdict == r.verdict, p.canonical["target"]
        if r.verdict == "CERTIFIED":
            assert again.upper == r.upper and again.cells == r.cells
        if doc is not None:
            rep = check_document(doc)
            assert rep.valid, rep.reason if hasattr(rep, "reason") else rep
            rep2 = check_document(build_certificate(p, again))
            assert rep2.valid


@pytest.mark.slow
def test_sequence_map_certificates_do_not_depend_on_library_accuracy(monkeypatch):
    """A VALID sequence-map answer stays VALID with numpy's cos, sin, exp, log off by 8 ulps
    (the checker rebuilds the inner problems, positions included, and must get the same
    floats on every host)."""
    from certify.checker.sequence_map import check_sequence_map
    from certify.constructions.kolmogorov_arnold import construct, example
    from certify.formats.seqmap import parse_seqmap

    spec = parse_seqmap(example("product", 2, 0.1))
    doc = construct(spec).doc
    assert check_sequence_map(doc).valid
    for name in ("exp", "log", "sin", "cos", "tan", "arctan", "power", "exp2", "log2"):
        monkeypatch.setattr(np, name, _off_by_ulps(getattr(np, name)))
    for name in ("exp", "log", "sin", "cos", "atan", "pow"):
        monkeypatch.setattr(math, name, _off_by_ulps(getattr(math, name)))
    rep = check_sequence_map(doc)
    assert rep.valid, (rep.where, rep.reason)


#: The trusted set behind a VALID answer: the kernel, the head-certificate checker, the
#: sequence-map spec and checker, the certificate reader, the problem and expression loaders
#: and what they need.
def _module(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    return ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)


TRUSTED_SET = {_module(p) for p in TRUSTED}
HEAD_TRUSTED_SET = TRUSTED_SET - {_module(p) for p in SEQUENCE_MAP_PART}


def _is_module(dotted: str, root: Path) -> bool:
    rel = root.parent / dotted.replace(".", "/")
    return rel.with_suffix(".py").exists() or (rel / "__init__.py").exists()


def _project_imports(path: Path, module: str, root: Path = ROOT) -> set[str]:
    """Every certify.* module the file imports anywhere (also inside functions): import and
    from-import statements (``from certify import heads`` names the subpackage), and
    ``importlib.import_module`` / ``__import__`` calls with a constant name."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("certify"):
                found.add(target)
                for a in node.names:  # from . import interval -> certify.kernel.interval
                    if _is_module(f"{target}.{a.name}", root):
                        found.add(f"{target}.{a.name}")
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("certify"))
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str) and node.args[0].value.startswith("certify"):
            fn = node.func
            name = fn.attr if isinstance(fn, ast.Attribute) else fn.id if isinstance(fn, ast.Name) else ""
            if name in ("import_module", "__import__"):
                found.add(node.args[0].value)
    return found


def test_the_import_scan_can_fail(tmp_path):
    """A planted trusted module that reaches the untrusted stages in every way the scan knows."""
    root = tmp_path / "certify"
    for sub in ("kernel", "heads", "certifier"):
        (root / sub).mkdir(parents=True)
        (root / sub / "__init__.py").write_text("")
    (root / "__init__.py").write_text("")
    (root / "heads" / "numeric.py").write_text("")
    bad = root / "kernel" / "bad.py"
    bad.write_text("import importlib\nfrom certify import heads\nfrom certify.heads import numeric\n"
                   "def f():\n    import certify.certifier\n    importlib.import_module('certify.certifier.search')\n"
                   "    __import__('certify.report')\n")
    found = _project_imports(bad, "certify.kernel.bad", root)
    assert {"certify.heads", "certify.heads.numeric", "certify.certifier", "certify.certifier.search",
            "certify.report"} <= found, found


def test_the_trusted_set_imports_only_itself():
    outside = {}
    for mod in sorted(TRUSTED_SET):
        rel = mod.replace(".", "/")
        path = ROOT.parent / (rel + ".py") if (ROOT.parent / (rel + ".py")).exists() else ROOT.parent / rel / "__init__.py"
        bad = _project_imports(path, mod) - TRUSTED_SET
        if bad:
            outside[mod] = sorted(bad)
    assert not outside, f"trusted modules import untrusted ones: {outside}"


def _run_loading_only_the_trusted_set(check_code: str, allowed=TRUSTED_SET) -> None:
    """Run ``check_code`` in a fresh interpreter, then fail if it loaded any certify module
    outside ``allowed``."""
    import subprocess
    import sys

    code = (check_code + "\nimport sys\n"
            "loaded = sorted(m for m in sys.modules if m.startswith('certify'))\n"
            f"bad = [m for m in loaded if m not in {sorted(allowed)!r}]\n"
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT.parent)


def test_checking_a_certificate_loads_nothing_outside_the_trusted_set(tmp_path):
    import json

    from certify.certifier.writer import build_certificate
    from certify.certifier.search import prove
    from tests.conftest import circle_problem

    p = circle_problem(eps=0.06)
    path = tmp_path / "c.json"
    path.write_text(json.dumps(build_certificate(p, prove(p))))
    _run_loading_only_the_trusted_set(
        f"from certify.checker import check_file\nrep = check_file({str(path)!r})\nassert rep.valid, rep",
        allowed=HEAD_TRUSTED_SET)


@pytest.mark.slow
def test_checking_a_sequence_map_certificate_loads_nothing_outside_the_trusted_set(tmp_path):
    import json

    from certify.constructions.kolmogorov_arnold import construct, example
    from certify.formats.seqmap import parse_seqmap

    doc = construct(parse_seqmap(example("smooth-max", 2, 0.1))).doc
    path = tmp_path / "k.json"
    path.write_text(json.dumps(doc))
    _run_loading_only_the_trusted_set(
        f"from certify.checker import check_file\nrep = check_file({str(path)!r})\n"
        "assert rep.valid, (rep.where, rep.reason)")


def code_lines(path: Path) -> int:
    """Lines holding code: not blank, not only a comment, not inside a docstring."""
    import io
    import tokenize

    src = path.read_text()
    docs = set()
    for node in ast.walk(ast.parse(src)):
        body = getattr(node, "body", None)
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and body:
            first = body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                docs.update(range(first.lineno, first.end_lineno + 1))
    lines = set()
    skip = (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER)
    for tok in tokenize.generate_tokens(io.StringIO(src).readline):
        if tok.type not in skip:
            lines.update(n for n in range(tok.start[0], tok.end[0] + 1) if n not in docs)
    return len(lines)


def trusted_base_size() -> dict:
    """Files, code lines and all lines of the head checker's trusted base and of the part
    sequence maps add."""
    head = [p for p in TRUSTED if p not in SEQUENCE_MAP_PART]
    size = {}
    for name, paths in (("head", head), ("sequence_map", list(SEQUENCE_MAP_PART))):
        size[name] = {"files": len(paths), "code": sum(code_lines(p) for p in paths),
                      "lines": sum(len(p.read_text().splitlines()) for p in paths)}
    return size


def test_code_lines_counts_only_code(tmp_path):
    f = tmp_path / "m.py"
    f.write_text('"""Doc\nstring."""\n\n# comment\nx = 1  # trailing\n\n\ndef g():\n    """Doc."""\n    return (x +\n            2)\n')
    assert code_lines(f) == 4  # x = 1, def g, return (x +, 2)


def test_the_readme_states_the_size_of_the_trusted_base():
    """The README's numbers are the tree's: a change to the trusted base must update them."""
    text = " ".join((ROOT.parent / "README.md").read_text().split())  # line breaks are spaces
    size = trusted_base_size()
    head, seq = size["head"], size["sequence_map"]
    want_head = f"{head['code']:,} lines of code in {head['files']} files ({head['lines']:,} lines in all)"
    want_seq = f"{seq['code']:,} lines of code ({seq['lines']:,} in all)"
    assert want_head in text and want_seq in text, (want_head, want_seq)
    # grew with interval_ball (balls with an exact end) and formats/limits.py, then with the
    # pruning's tree of key blocks and the one-evaluation exp rules (exp_upper, exp_narrow),
    # then with the third-order bound's tangent eigenvalue bounds and chord sub-intervals,
    # then with the key scores' float evaluation under one a-priori error term, then with that
    # evaluation in place and the second bound of the cells near the threshold, then with exp
    # and the third-order remainder's products evaluated in place (more lines, the same bits),
    # then with kernel/compiled.py (the per-key loops compiled, beside the numpy code they
    # stand for, which stays as the reference and the fallback), then with the compiled centre
    # weights and chord range and the loops rewritten row by row (rows that vectorise), then
    # with the underflow term that grows with the weights and values, then with the pair
    # features' absolute-sum bound, the blocks of like key counts, the compiled compaction and
    # the one-pass chord-node and remainder loops
    assert head["code"] < 4300
