"""pytest plugin: assert certificates inside another project's test suite.

Installed with the package (entry point ``pytest11``), it provides the fixture
``certify_certificate``::

    def test_prefix_meets_its_bound(certify_certificate):
        report = certify_certificate("certs/head.cert.json", problem="problems/head.json")
        assert report.upper <= 0.01

The fixture re-checks the certificate with the independent checker and fails the test
(with the checker's reason: field and leaf) unless it is valid and CERTIFIED. Pass
``verdict="REFUTED"`` to assert a refutation instead, ``strict=True`` for Arb re-checks.
"""

from __future__ import annotations

import pytest


def assert_certificate(path, problem=None, verdict: str = "CERTIFIED", strict: bool = False):
    from .checker import check_file

    report = check_file(path, problem, strict=strict)
    if not report.valid:
        pytest.fail(f"certificate {path} is INVALID: {report.where}: {report.reason}", pytrace=False)
    if report.verdict != verdict:
        pytest.fail(f"certificate {path} is valid but says {report.verdict}, not {verdict}", pytrace=False)
    return report


@pytest.fixture
def certify_certificate():
    """Callable (path, problem=None, verdict="CERTIFIED", strict=False) -> CheckReport."""
    return assert_certificate
