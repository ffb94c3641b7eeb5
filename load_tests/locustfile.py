"""Locust traffic for the paarec API: ~80% recommend, 15% events, 5% history reads.

Users are Zipf-skewed: synthetic ids ``u<n>`` with P(n) ~ 1/n^s, or the ids of a users file;
item ids for events come from the bundle's items.npy (``item<n>`` without a bundle). Settings:
``load_tests.settings.LoadSettings`` (``PAAREC_LOAD_*`` environment variables).
"""

from __future__ import annotations

import itertools
import random
import uuid

import numpy as np
from locust import between, task
from locust.contrib.fasthttp import FastHttpUser

from load_tests.settings import LoadSettings

SETTINGS = LoadSettings()


def _users() -> list[str]:
    if SETTINGS.users_file is not None:
        return SETTINGS.users_file.read_text().split()
    return [f"u{n}" for n in range(1, SETTINGS.users + 1)]


def _items() -> list[str]:
    if SETTINGS.bundle is not None:
        items = np.load(SETTINGS.bundle / "items.npy", allow_pickle=False)
        return [str(x) for x in items[1:]]  # entry 0 is padding
    return [f"item{n}" for n in range(1, 1001)]


def _cumulative_zipf(n: int, s: float) -> list[float]:
    weights = 1.0 / np.arange(1, n + 1) ** s
    return list(itertools.accumulate((weights / weights.sum()).tolist()))


USERS = _users()
ITEMS = _items()
CUM_WEIGHTS = _cumulative_zipf(len(USERS), SETTINGS.zipf_s)
HEADERS = {"Content-Type": "application/json"}
if SETTINGS.api_key is not None:
    HEADERS["X-API-Key"] = SETTINGS.api_key.get_secret_value()
K = SETTINGS.k


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
