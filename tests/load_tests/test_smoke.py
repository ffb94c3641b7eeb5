"""A 10-second headless locust run against a real redis-server and a real uvicorn service."""

from __future__ import annotations

import shutil
from importlib.util import find_spec
from pathlib import Path

import pytest

from load_tests.run import main as run_load_test
from load_tests.run import read_summary
from tests.utils.fake_bundle import make_fake_bundle

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server"),
    # locust runs in a subprocess: importing it here would gevent-patch the test process
    pytest.mark.skipif(find_spec("locust") is None, reason="needs locust (the load extra)"),
]


def test_locust_smoke_run_has_no_failures(tmp_path: Path) -> None:
    bundle = make_fake_bundle(tmp_path / "bundle", n_items=200, max_len=50, max_k=50)
    prefix = tmp_path / "csv" / "smoke"
    code = run_load_test(
        ["--bundle", str(bundle), "--users", "8", "--spawn-rate", "8", "--duration", "10",
         "--population", "200", "--csv-prefix", str(prefix), "--max-failure-ratio", "0"]
    )  # fmt: skip
    summary = read_summary(Path(f"{prefix}_stats.csv"))
    assert summary.requests > 0
    assert summary.failures == 0
    assert code == 0
