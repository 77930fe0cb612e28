"""``certify audit CLAIMS.toml``: audit another paper's (or any source's) inequalities from a
claims file, into the same kind of report as the paper audit.

File format (TOML; unknown fields are refused, naming them)::

    title = "Classical bounds on ratios of modified Bessel functions"   # required
    authors = ["D. E. Amos", "W. Gautschi"]      # optional: a string or a list of strings
    source = "..."                               # optional: where the inequalities come from
    notes = "..."                                # optional: printed under the title
    max_boxes = 200000                           # optional: Arb boxes per claim (default 200000)

    [[claim]]                                    # one table per claim, at least one
    label = "Amos (1974), lower bound, nu = 0"   # required, unique
    statement = "forall x in [0, 50]: besseli(1, x)/besseli(0, x) >= x/(1/2 + sqrt(x**2 + 9/4))"
    provenance = "Amos 1974, Math. Comp. 28, 239-251"   # required: who states it
    expected = "VERIFIED ON RANGE"               # optional: VERIFIED ON RANGE (or VERIFIED),
                                                 #   REFUTED or UNDECIDED
    notes = "..."                                # optional
    key = "amos_lower_0"                         # optional: a stable id (default: from the label)
    max_boxes = 100000                           # optional: this claim's budget

Each statement is a ``certify claim`` (same grammar, same engine: VERIFIED ON RANGE, REFUTED
with an exact witness, or UNDECIDED; the verdict depends only on the statement and the box
budget). The report (``OUT/<file stem>-audit.md``, ``.html`` and ``.json``) has every claim
with its verdict, evidence and time, and the findings: every claim whose verdict differs from
the one the file expects, and every REFUTED claim. ``--check`` reruns the file and compares
with the committed JSON (:func:`certify.report.audit.compare_reports`).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from certify.budgets import DEFAULT_MAX_BOXES
from certify.errors import InputError

TOP_FIELDS = {"title", "authors", "source", "notes", "max_boxes", "claim"}
CLAIM_FIELDS = {"label", "statement", "provenance", "expected", "notes", "key", "max_boxes"}
EXPECTED = {"VERIFIED ON RANGE": "VERIFIED ON RANGE", "VERIFIED": "VERIFIED ON RANGE",
            "REFUTED": "REFUTED", "UNDECIDED": "UNDECIDED"}

CLAIMS_LEGEND = [
    ("VERIFIED ON RANGE", "Arb ball branch-and-bound over the stated box: every sub-box certainly satisfies "
                          "the inequality (the box is part of the verdict)"),
    ("REFUTED", "an exact rational point of the box where the inequality is certainly false in Arb"),
    ("UNDECIDED", "the box budget was spent, or the claim is tight in a way intervals cannot settle"),
]


def _text(value, where: str, required: bool = True) -> str | None:
    if value is None:
        if required:
            raise InputError(where, "missing (a non-empty string is required)")
        return None
    if not isinstance(value, str) or not value.strip():
        raise InputError(where, "must be a non-empty string")
    return value.strip()


def _budget(value, where: str, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10 ** 8:
        raise InputError(where, "must be an integer from 1 to 100000000 (Arb boxes)")
    return value


def _slug(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")[:60] or "claim"


def load_claims_file(path: str | Path) -> dict:
    """Read and validate a claims file (see the module docstring); bad input is an
    :class:`InputError` naming the field."""
    import tomllib

    path = Path(path)
    field = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError("CLAIMS", f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise InputError(field, "not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(field, f"not valid TOML: {exc}") from None
    unknown = sorted(set(doc) - TOP_FIELDS)
    if unknown:
        raise InputError(f"{field}: {unknown[0]}", f"unknown field (allowed: {', '.join(sorted(TOP_FIELDS))})")
    title = _text(doc.get("title"), f"{field}: title")
    authors = doc.get("authors", [])
    if isinstance(authors, str):
        authors = [authors]
    if not isinstance(authors, list) or not all(isinstance(a, str) and a.strip() for a in authors):
        raise InputError(f"{field}: authors", "must be a string or a list of non-empty strings")
    budget = _budget(doc.get("max_boxes"), f"{field}: max_boxes", DEFAULT_MAX_BOXES)
    claims = doc.get("claim")
    if not isinstance(claims, list) or not claims:
        raise InputError(f"{field}: claim", "at least one [[claim]] table is required")
    out, keys, labels = [], set(), set()
    for i, c in enumerate(claims, 1):
        where = f"{field}: claim {i}"
        if not isinstance(c, dict):
            raise InputError(where, "must be a table ([[claim]])")
        unknown = sorted(set(c) - CLAIM_FIELDS)
        if unknown:
            raise InputError(f"{where}: {unknown[0]}", f"unknown field (allowed: {', '.join(sorted(CLAIM_FIELDS))})")
        label = _text(c.get("label"), f"{where}: label")
        if label in labels:
            raise InputError(f"{where}: label", f"{label!r} is used twice")
        labels.add(label)
        key = _text(c.get("key"), f"{where}: key", required=False) or _slug(label)
        if not re.fullmatch(r"[A-Za-z0-9_.-]{1,80}", key):
            raise InputError(f"{where}: key", "letters, digits, '_', '.' and '-' only (at most 80)")
        if key in keys:
            raise InputError(f"{where}: key", f"{key!r} is used twice (give each claim its own key)")
        keys.add(key)
        expected = c.get("expected")
        if expected is not None:
            if not isinstance(expected, str) or expected.strip().upper() not in EXPECTED:
                raise InputError(f"{where}: expected", "must be VERIFIED ON RANGE (or VERIFIED), REFUTED or UNDECIDED")
            expected = EXPECTED[expected.strip().upper()]
        out.append({"key": key, "label": label, "statement": _text(c.get("statement"), f"{where}: statement"),
                    "provenance": _text(c.get("provenance"), f"{where}: provenance"), "expected": expected,
                    "notes": _text(c.get("notes"), f"{where}: notes", required=False) or "",
                    "max_boxes": _budget(c.get("max_boxes"), f"{where}: max_boxes", budget), "field": where})
    # every statement through the full grammar (its domain probe included) before any work
    from certify.claims.grammar import parse_claim

    for c in out:
        parse_claim(c["statement"], f"{c['field']}: statement")
    return {"title": title, "authors": [a.strip() for a in authors],
            "source": _text(doc.get("source"), f"{field}: source", required=False) or "",
            "notes": _text(doc.get("notes"), f"{field}: notes", required=False) or "", "claims": out,
            "file": path.name}


def _evidence(r) -> str:
    if r.verdict == "VERIFIED ON RANGE":
        return f"{r.boxes} Arb boxes" + (" (fast path)" if r.engine == "fast" else "")
    if r.verdict == "REFUTED":
        where = ", ".join(f"{n} = {q}" for n, q in r.witness.items())
        return (f"witness {where}: the margin (larger side minus the other) lies in "
                f"[{r.witness_margin[0]:.6g}, {r.witness_margin[1]:.6g}]")
    return f"{r.reason} ({r.boxes} boxes)"


def run_claims_audit(spec: dict, out_dir: str | Path, progress=None) -> dict:
    """Decide every claim of ``spec`` (:func:`load_claims_file`) and write the report files;
    returns the JSON document."""
    from certify import tool_versions
    from certify.claims.decide import decide_claim
    from certify.report.audit import host_record

    t0 = time.monotonic()
    host = host_record()
    rows = []
    for c in spec["claims"]:
        r = decide_claim(c["statement"], f"{c['field']}: statement", max_boxes=c["max_boxes"])
        rows.append({"key": c["key"], "label": c["label"], "title": c["notes"], "provenance": c["provenance"],
                     "statement": c["statement"], "verdict": r.verdict, "expected": c["expected"],
                     "evidence": _evidence(r), "box": r.claim.box_text(), "max_boxes": c["max_boxes"],
                     "seconds": round(r.seconds, 2), "witness": r.witness})
        if progress:
            progress(f"{c['label']}: {r.verdict} ({r.seconds:.1f} s)")
    findings = []
    for row in rows:
        if row["expected"] and row["verdict"] != row["expected"]:
            findings.append({"key": row["key"], "kind": "unexpected verdict",
                             "text": f"{row['label']}: expected {row['expected']}, got {row['verdict']} "
                                     f"({row['evidence']})"})
        elif row["verdict"] == "REFUTED":
            findings.append({"key": row["key"], "kind": "refuted as expected",
                             "text": f"{row['label']}: REFUTED, as the file expects ({row['evidence']})"})
    doc = {"title": spec["title"], "authors": spec["authors"], "source": spec["source"], "notes": spec["notes"],
           "claims_file": spec["file"], "tools": tool_versions("mpmath"), "results": rows, "findings": findings,
           "host": host, "seconds": round(time.monotonic() - t0, 1)}
    write_claims_report(doc, out_dir, report_name(spec["file"]))
    return doc


def report_name(file_name: str) -> str:
    return f"{Path(file_name).stem}-audit"


def unexpected(doc: dict) -> list[dict]:
    return [f for f in doc["findings"] if f["kind"] == "unexpected verdict"]


def claims_blocks(doc: dict) -> list[tuple]:
    """The claims-file report as blocks (:func:`certify.report.render.report_blocks`' kinds)."""
    rows = doc["results"]
    counts = {k: sum(r["verdict"] == k for r in rows) for k, _ in CLAIMS_LEGEND}
    head = f"Generated by `certify audit {doc['claims_file']}`; rerun it to reproduce every verdict."
    blocks = [("h1", f"Audit: {doc['title']}")]
    if doc["authors"]:
        blocks.append(("p", "Authors: " + ", ".join(doc["authors"]) + "."))
    if doc["source"]:
        blocks.append(("p", f"Source: {doc['source']}"))
    if doc["notes"]:
        blocks.append(("p", doc["notes"]))
    blocks += [("p", head),
               ("p", "Verdicts: " + "; ".join(f"**{k}**: {v}" for k, v in CLAIMS_LEGEND) + "."),
               ("p", "Summary: " + ", ".join(f"{n} {k}" for k, n in counts.items() if n) + f" ({len(rows)} claims; "
                     f"{len(unexpected(doc))} with a verdict other than the file expects).")]
    table = []
    for r in rows:
        verdict = r["verdict"] + (f" on {r['box']}" if r["verdict"] == "VERIFIED ON RANGE" else "")
        table.append([r["label"], f"`{r['statement']}`", r["provenance"], r["expected"] or "-", f"**{verdict}**",
                      r["evidence"] + (f". {r['title']}" if r["title"] else ""), f"{r['seconds']:.2f}"])
    blocks.append(("table", ["label", "statement", "provenance", "expected", "verdict", "evidence and notes",
                             "time (s)"], table, 4))
    findings = [f["text"] for f in doc["findings"]] or ["Every verdict is the one the file expects; no claim is REFUTED."]
    host = doc.get("host") or {}
    run = [[label, str(host[k])] for k, label in (("date", "date"), ("commit", "commit"), ("cpu", "CPU"),
                                                 ("numpy_build", "numpy build"), ("os_kernel", "OS kernel"))
           if k in host]
    blocks += [("h2", "Findings"), ("ul", findings),
               ("h2", "Run"), ("p", "Where and when this report was made (informative: every verdict comes from a "
                                    "box budget, so another host reproduces them; only times differ)."),
               ("table", ["", "value"], run, None),
               ("h2", "Tools"), ("table", ["tool", "version"], [[k, str(v)] for k, v in doc["tools"].items()], None),
               ("p", f"Audit time: {doc['seconds']:.1f} s.")]
    return blocks


def write_claims_report(doc: dict, out_dir: str | Path, name: str) -> None:
    from certify.formats.jsonio import write_json_atomic
    from certify.report.render import render_html, render_markdown

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    blocks = claims_blocks(doc)
    write_json_atomic(out / f"{name}.json", doc)
    for suffix, text in (("md", render_markdown(doc, blocks)), ("html", render_html(doc, blocks, name))):
        tmp = out / f".{name}.{suffix}.tmp"
        tmp.write_text(text)
        tmp.replace(out / f"{name}.{suffix}")


def check_claims_report(spec: dict, out_dir: str | Path, progress=None) -> dict:
    """A fresh run of the claims file compared with ``OUT/<stem>-audit.json``."""
    import tempfile

    from certify.report.audit import compare_reports, read_committed

    committed = Path(out_dir) / f"{report_name(spec['file'])}.json"
    old = read_committed(committed, f"certify audit {spec['file']}")
    with tempfile.TemporaryDirectory() as tmp:
        doc = run_claims_audit(spec, tmp, progress)
    r = compare_reports(old, doc)
    for new in doc["results"]:
        o = next((x for x in old["results"] if x.get("key") == new["key"]), None)
        if o is not None and o.get("expected") != new["expected"] and new["key"] not in r["changed"]:
            r["changed"].append(new["key"])
            r["differences"].append(f"{new['key']} ({new['label']}): expected {o.get('expected')} -> {new['expected']}")
    return {**r, "committed": str(committed), "seconds": doc["seconds"], "doc": doc}
