"""Locust traffic for the paarec API: ~80% recommend, 15% events, 5% history reads.

Users are Zipf-skewed: synthetic ids ``u<n>`` with P(n) ~ 1/n^s (n = 1..PAAREC_LOAD_USERS), or
the ids in PAAREC_LOAD_USERS_FILE (one per line, most active first). Item ids for events come
from the bundle's items.npy (PAAREC_LOAD_BUNDLE); without a bundle, ``item<n>`` ids are used.

Environment: PAAREC_LOAD_USERS (default 10000), PAAREC_LOAD_USERS_FILE, PAAREC_LOAD_ZIPF_S
(default 1.1), PAAREC_LOAD_BUNDLE, PAAREC_LOAD_API_KEY (sent as X-API-Key), PAAREC_LOAD_K.
"""

from __future__ import annotations

import itertools
import os
import random
import uuid
from pathlib import Path

import numpy as np
from locust import between, task
from locust.contrib.fasthttp import FastHttpUser


def _users() -> list[str]:
    path = os.environ.get("PAAREC_LOAD_USERS_FILE")
    if path:
        return Path(path).read_text().split()
    return [f"u{n}" for n in range(1, int(os.environ.get("PAAREC_LOAD_USERS", "10000")) + 1)]


def _items() -> list[str]:
    bundle = os.environ.get("PAAREC_LOAD_BUNDLE")
    if bundle:
        items = np.load(Path(bundle) / "items.npy", allow_pickle=False)
        return [str(x) for x in items[1:]]  # entry 0 is padding
    return [f"item{n}" for n in range(1, 1001)]


def _cumulative_zipf(n: int, s: float) -> list[float]:
    weights = 1.0 / np.arange(1, n + 1) ** s
    return list(itertools.accumulate((weights / weights.sum()).tolist()))


USERS = _users()
ITEMS = _items()
CUM_WEIGHTS = _cumulative_zipf(len(USERS), float(os.environ.get("PAAREC_LOAD_ZIPF_S", "1.1")))
HEADERS = {"Content-Type": "application/json"}
if os.environ.get("PAAREC_LOAD_API_KEY"):
    HEADERS["X-API-Key"] = os.environ["PAAREC_LOAD_API_KEY"]
K = int(os.environ.get("PAAREC_LOAD_K", "10"))


def pick_user(rng: random.Random) -> str:
    return rng.choices(USERS, cum_weights=CUM_WEIGHTS)[0]


class ApiUser(FastHttpUser):
    """One simulated client; think time 0-20 ms between calls."""

    wait_time = between(0.0, 0.02)

    def on_start(self) -> None:
        self.rng = random.Random()

    @task(80)
    def recommend(self) -> None:
        body = {"user_id": pick_user(self.rng), "k": K}
        self.client.post("/recommend", json=body, headers=HEADERS, name="POST /recommend")

    @task(15)
    def add_event(self) -> None:
        body = {
            "user_id": pick_user(self.rng),
            "item_id": self.rng.choice(ITEMS),
            "event_id": uuid.uuid4().hex,
        }
        self.client.post("/events", json=body, headers=HEADERS, name="POST /events")

    @task(5)
    def read_history(self) -> None:
        user = pick_user(self.rng)
        self.client.get(
            f"/users/{user}/history", headers=HEADERS, name="GET /users/{user_id}/history"
        )
