"""The metric reference in docs/deploy.md lists exactly the series the service exports."""

from __future__ import annotations

import re
from pathlib import Path

from service.core.metrics import Metrics

DEPLOY_DOC = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"


def test_every_exported_metric_is_documented_and_nothing_else() -> None:
    families = re.findall(r"^# HELP (\S+) ", Metrics().render().decode(), re.M)
    exported = {name for name in families if not name.endswith("_created")}  # client timestamps
    table = DEPLOY_DOC.read_text().split("### Metrics and what to alert on", 1)[1]
    documented = set(re.findall(r"^\| `(paarec_\w+)` \|", table, re.M))
    assert exported, "no metric was exported"
    assert documented == exported
