"""Bad input never yields a 500: each case gets a 4xx JSON error naming the field."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.service.conftest import AppFactory

LONG_ID = "x" * 129  # default PAAREC_MAX_ID_LENGTH is 128
R = "/recommend"

CASES: list[tuple[str, str, str, Any, int, str | None]] = [
    # (id, method, path, json body, expected status, field named in the body)
    ("k-string", "POST", R, {"user_id": "u", "k": "ten"}, 422, "k"),
    ("k-numeric-string", "POST", R, {"user_id": "u", "k": "10"}, 422, "k"),
    ("k-zero", "POST", R, {"user_id": "u", "k": 0}, 422, "k"),
    ("k-above-bundle-max", "POST", R, {"user_id": "u", "k": 21}, 422, "k"),
    ("k-float", "POST", R, {"user_id": "u", "k": 2.5}, 422, "k"),
    ("user-missing", "POST", R, {"k": 3}, 422, "user_id"),
    ("user-empty", "POST", R, {"user_id": ""}, 422, "user_id"),
    ("user-too-long", "POST", R, {"user_id": LONG_ID}, 422, "user_id"),
    ("user-control-char", "POST", R, {"user_id": "a\nb"}, 422, "user_id"),
    ("user-space", "POST", R, {"user_id": "a b"}, 422, "user_id"),
    ("user-int", "POST", R, {"user_id": 5}, 422, "user_id"),
    (
        "exclude-seen-string",
        "POST",
        R,
        {"user_id": "u", "exclude_seen": "yes"},
        422,
        "exclude_seen",
    ),
    ("unknown-field", "POST", R, {"user_id": "u", "kk": 3}, 422, "kk"),
    ("history-not-list", "POST", R, {"user_id": "u", "history": "item1"}, 422, "history"),
    ("history-bad-id", "POST", R, {"user_id": "u", "history": ["ok", ""]}, 422, "history[1]"),
    ("history-too-long", "POST", R, {"user_id": "u", "history": ["i"] * 1001}, 422, "history"),
    (
        "exclude-too-many",
        "POST",
        R,
        {"user_id": "u", "exclude_items": ["i"] * 1001},
        422,
        "exclude_items",
    ),
    ("body-not-object", "POST", R, [1, 2], 422, "body"),
    ("batch-empty", "POST", "/recommend/batch", {"requests": []}, 422, "requests"),
    (
        "batch-too-many",
        "POST",
        "/recommend/batch",
        {"requests": [{"user_id": "u"}] * 65},
        422,
        "requests",
    ),
    (
        "batch-item-k",
        "POST",
        "/recommend/batch",
        {"requests": [{"user_id": "u"}, {"user_id": "v", "k": 99}]},
        422,
        "requests[1].k",
    ),
    (
        "batch-item-unknown",
        "POST",
        "/recommend/batch",
        {"requests": [{"user_id": "u", "x": 1}]},
        422,
        "requests[0].x",
    ),
    ("event-no-item", "POST", "/events", {"user_id": "u"}, 422, "item_id"),
    (
        "event-both",
        "POST",
        "/events",
        {"user_id": "u", "item_id": "a", "items": ["b"]},
        422,
        "item_id",
    ),
    ("event-items-empty", "POST", "/events", {"user_id": "u", "items": []}, 422, "items"),
    (
        "event-items-too-many",
        "POST",
        "/events",
        {"user_id": "u", "items": ["a"] * 101},
        422,
        "items",
    ),
    (
        "event-item-too-long",
        "POST",
        "/events",
        {"user_id": "u", "item_id": LONG_ID},
        422,
        "item_id",
    ),
    (
        "event-bad-timestamp",
        "POST",
        "/events",
        {"user_id": "u", "item_id": "a", "timestamp": "yesterday"},
        422,
        "timestamp",
    ),
    (
        "event-bad-event-id",
        "POST",
        "/events",
        {"user_id": "u", "item_id": "a", "event_id": "a\tb"},
        422,
        "event_id",
    ),
    ("history-limit-zero", "GET", "/users/u/history?limit=0", None, 422, "limit"),
    (
        "history-limit-beyond-int64",
        "GET",
        "/users/u/history?limit=144853528331114638996951531520",
        None,
        422,
        "limit",
    ),
    ("history-user-too-long", "GET", f"/users/{LONG_ID}/history", None, 422, "user_id"),
    ("reload-unknown-field", "POST", "/admin/reload", {"paths": "/x"}, 422, "paths"),
    # found by schemathesis: a path component longer than the OS allows (ENAMETOOLONG)
    ("reload-path-name-too-long", "POST", "/admin/reload", {"path": "0" * 3000}, 403, "path"),
    ("reload-path-with-nul", "POST", "/admin/reload", {"path": "/tmp/a\u0000b"}, 422, "path"),
    ("not-found", "GET", "/nope", None, 404, None),
    ("wrong-method", "GET", "/recommend", None, 405, None),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "field"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
async def test_bad_input_gets_a_4xx_naming_the_field(
    client: httpx.AsyncClient, method: str, path: str, body: Any, status: int, field: str | None
) -> None:
    headers = {"X-API-Key": "admin-key-0123456789abcdef"}
    resp = await client.request(method, path, json=body, headers=headers)
    assert resp.status_code == status, resp.text
    error = resp.json()["error"]
    assert error["code"]
    assert error["message"]
    if field is not None:
        assert field in [f["field"] for f in error["fields"]], error


async def test_malformed_json_is_a_400(client: httpx.AsyncClient) -> None:
    resp = await client.post(
        "/recommend", content=b'{"user_id": "u",', headers={"Content-Type": "application/json"}
    )
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "malformed_json"
    assert resp.json()["error"]["fields"][0]["field"] == "body"


async def test_oversized_body_is_a_413(app_factory: AppFactory) -> None:
    _, client = await app_factory(max_body_bytes=2048)
    big = {"user_id": "u", "history": ["item1"] * 1000}
    resp = await client.post("/recommend", json=big)
    assert resp.status_code == 413
    assert resp.json()["error"]["code"] == "payload_too_large"

    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(10):
            yield b" " * 512  # no Content-Length: streamed, counted as it arrives

    resp = await client.post("/recommend", content=chunks())
    assert resp.status_code == 413


async def test_unexpected_errors_are_a_json_500_without_traceback(
    served,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    app, client = served

    async def boom(*_: Any, **__: Any) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(app.state.store, "get", boom)
    resp = await client.post("/recommend", json={"user_id": "u"})
    assert resp.status_code == 500
    assert resp.json() == {"error": {"code": "internal_error", "message": "internal server error"}}
    assert "secret" not in resp.text
