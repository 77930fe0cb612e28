import pytest


@pytest.fixture(scope="session")
def fresh_audit(tmp_path_factory):
    """One fresh run of the whole audit (every check, the figures, the report files)."""
    from certify.report.audit import run_audit

    out = tmp_path_factory.mktemp("audit")
    return out, run_audit(out)
