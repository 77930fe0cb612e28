"""``certify audit``: the audit of the paper's claims, written to ``reports/``.

Runs every result registered in :mod:`proofs` (each with its verdict kind: PROVED, VERIFIED ON
RANGE, REFUTED, CONSISTENT, NOT CHECKED) and writes

* ``paper-audit.json``: the rows (label, statement, provenance, verdict, evidence, box, time)
  and the tool versions; what the staleness test compares against a fresh run;
* ``paper-audit.md`` and ``paper-audit.html``: the same as a report, with five figures:
  ``fig-vmf-kernel.png`` (the vMF kernel on S^2 for lambda = 1, 5, 10; the paper's Figure 3),
  ``fig-bessel-ratios.png`` (a_k^2 for k = 1, 2, 3 with the derived lower bounds; Figure 5: each
  bound is VERIFIED ON RANGE by its row, k = 1 on [0.1, 50] and k = 2, 3 on [0.5, 50]),
  ``fig-prefix-length.png`` (prefix length against eps: the paper's exponent, the paper's route
  with THEORY 3.1's constants, the same route and the net route with our derived constants,
  and the smallest certified N) and ``fig-error-map.png`` (the error of a
  certified prefix over S^2).

Verdicts are deterministic: every search behind them (``certify prove``, ``certify claim``, the
bisection on N, the torus bound) stops on a work budget (cells, boxes, pairs), never on the
clock, so a loaded or slow machine reproduces the same verdicts, evidence and tables; only the
times differ. :func:`compare_reports` says what differs between two runs (``certify audit
--check``).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from certify import tool_versions
from certify.report.figures import (LENGTH_DIM, LENGTH_EPS, LENGTH_L, LENGTH_TARGET, fig_bessel_ratios,
                                    fig_error_map, fig_prefix_length, fig_tuned_lengths, fig_vmf_kernel)
from certify.report.render import REPORT, render_html, render_markdown, table_view

#: The packages the audit uses beyond the core ones (recorded in the report).
AUDIT_PACKAGES = ("scipy", "mpmath", "z3-solver", "matplotlib")

#: Fields of a row that a rerun must reproduce exactly (times may differ; the evidence is
#: compared and reported too, but its numbers may move in the last digits between hosts).
STABLE_FIELDS = ("key", "label", "title", "provenance", "statement", "verdict", "box")
def run_results(progress=None) -> list[dict]:
    from proofs.registry import run_all

    rows = []

    def note(r, v):
        if progress:
            progress(f"{r.label}: {v.kind} ({v.seconds:.1f} s)")

    for r, v in run_all(note):
        rows.append({"key": r.key, "label": r.label, "title": r.title, "provenance": r.provenance,
                     "statement": r.statement, "verdict": v.kind, "evidence": v.evidence, "box": v.box,
                     "seconds": round(v.seconds, 2)})
    return rows


# ------------------------------------------------------------------------------ figures


def prefix_length_table(progress=None) -> list[dict]:
    from certify.constructions.prefix_length import BISECTION_MAX_CELLS, paper_exponent, route_bound, smallest_certified
    from certify.formats.expressions import parse_target

    target = parse_target([LENGTH_TARGET], LENGTH_DIM)
    rows = []
    for eps in LENGTH_EPS:
        net = route_bound("net", LENGTH_DIM, eps, LENGTH_L, 0.5)
        paper = route_bound("paper", LENGTH_DIM, eps, LENGTH_L, 0.5)
        stated = route_bound("stated", LENGTH_DIM, eps, LENGTH_L, 0.5)
        # each trial uses at most 8.1e3 cells; the bisection's default budget is 2e5 per trial
        found = smallest_certified("net", target, eps, LENGTH_L, int(net.prefix_length),
                                   max_cells=BISECTION_MAX_CELLS, time_limit=None)
        rows.append({"epsilon": eps, "paper_exponent_shape": eps ** -paper_exponent(LENGTH_DIM),
                     "stated_route": stated.prefix_length, "paper_route": paper.prefix_length,
                     "net_route": net.prefix_length,
                     "smallest_certified": found["smallest_certified"]})
        if progress:
            progress(f"prefix length at eps = {eps:g}: net {net.prefix_length:.0f}, "
                     f"certified {found['smallest_certified']}")
    return rows


def tuned_lengths() -> dict | None:
    """The committed results of ``benchmarks/bench_tune.py`` (rows and fitted slopes); the row
    'open question: shortest certified prefixes' re-certifies every tuned prefix they name."""
    import json

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "TUNE.json"
    if not path.is_file():
        return None
    doc = json.loads(path.read_text())
    return {"rows": doc["rows"], "slopes": doc.get("slopes", {}), "date": doc.get("date"), "machine": doc.get("machine")}


# ------------------------------------------------------------------------------ report


def host_record() -> dict:
    """Where and when the audit ran (informative: no verdict depends on it): the date (UTC),
    the project's commit, the CPU, numpy's build (SIMD extensions, BLAS) and the OS kernel."""
    import datetime
    import platform
    import subprocess

    import numpy as np

    root = Path(__file__).resolve().parents[2]
    commit = "unknown (not a git checkout)"
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        if head.returncode == 0:
            commit = head.stdout.strip()
            dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                                   capture_output=True, text=True, timeout=10)
            if dirty.stdout.strip():
                commit += " with uncommitted changes"
    except (OSError, subprocess.SubprocessError):
        pass
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    build = "unknown"
    try:
        conf = np.show_config(mode="dicts")
        simd = conf.get("SIMD Extensions", {})
        blas = conf.get("Build Dependencies", {}).get("blas", {})
        build = (f"numpy {np.__version__}, SIMD baseline {' '.join(simd.get('baseline', [])) or '-'}, found "
                 f"{' '.join(simd.get('found', [])) or '-'}; BLAS {blas.get('name', '?')} {blas.get('version', '')}".strip())
    except Exception:  # noqa: BLE001  (numpy's build report is informative only)
        pass
    return {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "commit": commit,
            "cpu": f"{cpu} ({platform.machine()}, {__import__('os').cpu_count()} logical cores)",
            "numpy_build": build, "os_kernel": f"{platform.system()} {platform.release()}"}


def run_audit(out_dir: str | Path = "reports", progress=None) -> dict:
    """Run every check, draw the figures, write the report files; returns the JSON document."""
    from certify.constructions.kolmogorov_arnold import depth_table

    t0 = time.monotonic()
    host = host_record()  # before anything is written: the commit's state as the run found it
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = run_results(progress)
    if progress:
        progress("figures")
    fig_vmf_kernel(out / "fig-vmf-kernel.png")
    fig_bessel_ratios(out / "fig-bessel-ratios.png")
    lengths = prefix_length_table(progress)
    fig_prefix_length(out / "fig-prefix-length.png", lengths)
    error_map = fig_error_map(out / "fig-error-map.png")
    tuned = tuned_lengths()
    fig_tuned_lengths(out / "fig-tuned-lengths.png", tuned)
    doc = {"paper": "Petrov, Torr, Bibi, Prompting a Pretrained Transformer Can Be a Universal Approximator, "
                    "ICML 2024", "tools": tool_versions(*AUDIT_PACKAGES), "results": rows, "prefix_length": lengths,
           "error_map": error_map, "depth": depth_table(range(1, 9)), "tuned": tuned, "host": host,
           "seconds": round(time.monotonic() - t0, 1)}
    from certify.formats.jsonio import write_json_atomic

    write_json_atomic(out / f"{REPORT}.json", doc)
    for suffix, text in (("md", render_markdown(doc)), ("html", render_html(doc))):
        tmp = out / f".{REPORT}.{suffix}.tmp"
        tmp.write_text(text)
        tmp.replace(out / f"{REPORT}.{suffix}")
    return doc


def stable_view(doc: dict) -> list[tuple]:
    """What a rerun must reproduce: each result's stable fields, in order."""
    return [tuple(r[k] for k in STABLE_FIELDS) for r in doc["results"]]


def _short(value, width: int = 160) -> str:
    text = str(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def _text_change(old: str, new: str) -> str:
    """'old' -> 'new', shortened around the first difference for long texts."""
    old, new = str(old), str(new)
    if max(len(old), len(new)) <= 160:
        return f"{old!r} -> {new!r}"
    i = next((k for k, (a, b) in enumerate(zip(old, new)) if a != b), min(len(old), len(new)))
    start = max(0, i - 40)
    pre = "..." if start else ""
    return f"{pre + _short(old[start:], 120)!r} -> {pre + _short(new[start:], 120)!r}"


def compare_reports(old: dict, new: dict) -> dict:
    """What differs between a committed audit ``old`` and a fresh run ``new`` (times ignored).

    Returns ``changed`` (keys of the results, or names of the tables, whose verdict-bearing
    content differs: a stable field of a row, a row added or removed, the prefix-length or depth
    table, the error map's verdict), ``differences`` (one line each, old -> new) and
    ``evidence`` (lines for rows whose evidence text alone differs: reported, not a change of
    verdict)."""
    changed, lines, evidence = [], [], []
    old_rows = {r["key"]: r for r in old.get("results", [])}
    new_rows = {r["key"]: r for r in new.get("results", [])}
    for key, r in new_rows.items():
        if key not in old_rows:
            changed.append(key)
            lines.append(f"{key} ({r['label']}): new result, {r['verdict']}")
            continue
        o = old_rows[key]
        fields = [k for k in STABLE_FIELDS if o.get(k) != r.get(k)]
        if fields:
            changed.append(key)
            what = (f"verdict {o.get('verdict')} -> {r['verdict']}" if "verdict" in fields
                    else f"{', '.join(fields)} changed (verdict {r['verdict']} unchanged)")
            lines.append(f"{key} ({r['label']}): {what}")
            for k in fields:
                if k != "verdict":
                    lines.append(f"    {k}: {_text_change(o.get(k), r.get(k))}")
            if o.get("evidence") != r.get("evidence"):
                lines.append(f"    evidence: {_text_change(o.get('evidence'), r.get('evidence'))}")
        elif o.get("evidence") != r.get("evidence"):
            evidence.append(f"{key} ({r['label']}, {r['verdict']} unchanged): evidence "
                            f"{_text_change(o.get('evidence'), r.get('evidence'))}")
    for key, o in old_rows.items():
        if key not in new_rows:
            changed.append(key)
            lines.append(f"{key} ({o['label']}): no longer produced (was {o['verdict']})")
    order = [k for k in new_rows if k in old_rows] == [k for k in old_rows if k in new_rows]
    if not order:
        changed.append("order")
        lines.append("the order of the results changed")
    old_tables, new_tables = table_view(old), table_view(new)
    for table, label in (("prefix_length", "prefix-length table"), ("depth", "depth table"),
                         ("tuned", "tuned-prefix table")):
        a, b = old_tables[table], new_tables[table]
        if a != b:
            changed.append(table)
            if len(a) != len(b):
                lines.append(f"{label}: {len(a)} rows -> {len(b)} rows")
            lines += [f"{label}, row {i + 1}: {' | '.join(x)} -> {' | '.join(y)}"
                      for i, (x, y) in enumerate(zip(a, b)) if x != y]
    a, b = (old.get("error_map") or {}).get("verdict"), (new.get("error_map") or {}).get("verdict")
    if a != b:
        changed.append("error_map")
        lines.append(f"error map (figure): verdict {a} -> {b}")
    return {"changed": changed, "differences": lines, "evidence": evidence}


def print_summary(doc: dict, file=sys.stdout) -> None:
    rows = doc["results"]
    width = max(len(r["label"]) for r in rows)
    pw = max(len(r["provenance"]) for r in rows)
    for r in rows:
        print(f"  {r['label']:<{width}}  {r['provenance']:<{pw}} {r['verdict']}", file=file)
    print(f"  ({len(rows)} results, {doc['seconds']:.1f} s)", file=file)


def read_committed(committed: Path, command: str) -> dict:
    """The committed audit JSON a --check compares against; missing or malformed is bad input."""
    from certify.errors import InputError
    from certify.formats.jsonio import read_json

    if not committed.is_file():
        raise InputError("--out", f"no {committed} to check against; run {command} first")
    old = read_json(committed, what="audit")
    if not (isinstance(old, dict) and isinstance(old.get("results"), list)
            and all(isinstance(r, dict) and all(isinstance(r.get(k), str) for k in ("key", "label", "verdict"))
                    for r in old["results"])):
        raise InputError("--out", f"{committed} is not an audit report (results need key, label and "
                                  "verdict, each a string)")
    from certify.report.render import table_view

    try:
        table_view(old)
        (old.get("error_map") or {}).get("verdict")
    except (KeyError, TypeError, ValueError, AttributeError, IndexError):
        raise InputError("--out", f"{committed} is not an audit report (its tables are malformed)") from None
    return old


def check_report(out_dir: str | Path = "reports", progress=None) -> dict:
    """Whether the committed report in ``out_dir`` is up to date: a fresh run into a temporary
    folder compared with ``out_dir/paper-audit.json`` (:func:`compare_reports`), plus the path
    compared against and the fresh run's time. A missing or malformed report is bad input."""
    import tempfile

    committed = Path(out_dir) / f"{REPORT}.json"
    old = read_committed(committed, "certify audit")
    with tempfile.TemporaryDirectory() as tmp:
        doc = run_audit(tmp, progress)
    return {**compare_reports(old, doc), "committed": str(committed), "seconds": doc["seconds"]}
