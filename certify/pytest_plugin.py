"""pytest plugin: assert certificates inside another project's test suite.

Installed with the package (entry point ``pytest11``), it provides the fixture
``certify_certificate``::

    def test_prefix_meets_its_bound(certify_certificate):
        report = certify_certificate("certs/head.cert.json", problem="problems/head.json")
        assert report.upper <= 0.01

The fixture re-checks the certificate with the independent checker and fails the test
(with the checker's reason: field and leaf) unless it is valid and CERTIFIED. Pass
``verdict="REFUTED"`` to assert a refutation instead, ``strict=True`` for Arb re-checks;
``pytest --certify-strict`` makes every check of the run strict.

Relative paths are resolved against the rootdir of the pytest run
(``request.config.rootpath``), not the current directory, so a test finds its files wherever
pytest is started. A missing or unreadable file fails the test with one message naming it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def pytest_addoption(parser):
    group = parser.getgroup("certify")
    group.addoption("--certify-strict", action="store_true", default=False,
                    help="certify_certificate: re-check every certificate in strict mode (every "
                         "transcendental function as an Arb ball; slow)")


def _resolve(path, root: Path | None) -> Path:
    p = Path(os.fspath(path))
    return p if p.is_absolute() or root is None else root / p


def assert_certificate(path, problem=None, verdict: str = "CERTIFIED", strict: bool = False,
                       root: Path | None = None):
    """Check ``path`` (and, if given, that it is about ``problem``); fail the test unless it
    is valid with ``verdict``. Relative paths are taken from ``root`` when given."""
    from certify.checker import check_file
    from certify.errors import InputError

    cert = _resolve(path, root)
    prob = _resolve(problem, root) if problem is not None else None
    for what, p in (("certificate", cert), ("problem", prob)):
        if p is not None and not p.is_file():
            pytest.fail(f"certify_certificate: {what} file {p} does not exist"
                        + (f" (relative paths are taken from the rootdir {root})" if root else ""),
                        pytrace=False)
    try:
        report = check_file(cert, prob, strict=strict)
    except InputError as exc:
        pytest.fail(f"certify_certificate: cannot check {cert}: {exc}", pytrace=False)
    if not report.valid:
        pytest.fail(f"certificate {cert} is INVALID: {report.where}: {report.reason}", pytrace=False)
    if report.verdict != verdict:
        pytest.fail(f"certificate {cert} is valid but says {report.verdict}, not {verdict}", pytrace=False)
    return report


@pytest.fixture
def certify_certificate(request):
    """Callable (path, problem=None, verdict="CERTIFIED", strict=False) -> CheckReport."""
    root = Path(request.config.rootpath)
    strict_run = bool(request.config.getoption("--certify-strict", default=False))

    def check(path, problem=None, verdict: str = "CERTIFIED", strict: bool = False):
        return assert_certificate(path, problem, verdict, strict=strict or strict_run, root=root)

    return check
