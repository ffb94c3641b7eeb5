"""The public API end to end: events, recommendations, history, idempotency."""

from __future__ import annotations

import httpx

from service.schemas.errors import ErrorResponse
from tests.utils.tiny_bundle import service_reference_top as expected_top


async def post_events(client: httpx.AsyncClient, user: str, items: list[str]) -> None:
    resp = await client.post("/events", json={"user_id": user, "items": items})
    assert resp.status_code == 200, resp.text


async def test_recommendations_follow_the_stored_history(client: httpx.AsyncClient) -> None:
    await post_events(client, "alice", ["item3", "item5"])
    first = (await client.post("/recommend", json={"user_id": "alice", "k": 5})).json()
    assert first["fallback"] is None
    assert first["history_length"] == 2
    assert [i["item_id"] for i in first["items"]] == expected_top([3, 5], 5)
    assert first["items"][0]["title"] == f"Title {first['items'][0]['item_id'][4:]}"
    scores = [i["score"] for i in first["items"]]
    assert scores == sorted(scores, reverse=True)

    await post_events(client, "alice", ["item40", "item41", "item42"])
    second = (await client.post("/recommend", json={"user_id": "alice", "k": 5})).json()
    assert second["history_length"] == 5
    assert [i["item_id"] for i in second["items"]] == expected_top([3, 5, 40, 41, 42], 5)
    assert second["items"] != first["items"]


async def test_seen_items_are_excluded_unless_asked_not_to(client: httpx.AsyncClient) -> None:
    seen = ["item2", "item7", "item9"]
    await post_events(client, "bob", seen)
    body = {"user_id": "bob", "k": 20}
    excluded = (await client.post("/recommend", json=body)).json()
    assert not {i["item_id"] for i in excluded["items"]} & set(seen)
    kept = (await client.post("/recommend", json={**body, "exclude_seen": False})).json()
    assert [i["item_id"] for i in kept["items"]] == expected_top([2, 7, 9], 20, False)


async def test_exclude_items_are_never_returned(client: httpx.AsyncClient) -> None:
    await post_events(client, "carol", ["item1"])
    top = expected_top([1], 3)
    resp = await client.post(
        "/recommend", json={"user_id": "carol", "k": 3, "exclude_items": [*top, "unknown-x"]}
    )
    got = [i["item_id"] for i in resp.json()["items"]]
    assert not set(got) & set(top)
    assert got == expected_top([1], 3, exclude=[int(t[4:]) for t in top])


async def test_cold_start_gets_popular_items(client: httpx.AsyncClient) -> None:
    resp = await client.post("/recommend", json={"user_id": "nobody", "k": 4})
    body = resp.json()
    assert resp.status_code == 200
    assert body["fallback"] == "popular"
    assert body["history_length"] == 0
    assert [i["item_id"] for i in body["items"]] == ["item1", "item2", "item3", "item4"]
    resp = await client.post(
        "/recommend", json={"user_id": "nobody", "k": 2, "exclude_items": ["item1", "item3"]}
    )
    assert [i["item_id"] for i in resp.json()["items"]] == ["item2", "item4"]


async def test_unknown_items_are_stored_but_skipped(client: httpx.AsyncClient) -> None:
    await post_events(client, "dora", ["new-item-1", "new-item-2"])
    body = (await client.post("/recommend", json={"user_id": "dora", "k": 3})).json()
    assert body["fallback"] == "popular"
    history = (await client.get("/users/dora/history")).json()
    assert history["items"] == ["new-item-1", "new-item-2"]
    await post_events(client, "dora", ["item8"])
    body = (await client.post("/recommend", json={"user_id": "dora", "k": 3})).json()
    assert body["fallback"] is None
    assert body["history_length"] == 1


async def test_inline_history_is_used_and_not_stored(client: httpx.AsyncClient) -> None:
    await post_events(client, "erin", ["item30"])
    resp = await client.post(
        "/recommend", json={"user_id": "erin", "k": 5, "history": ["item10", "item11"]}
    )
    assert [i["item_id"] for i in resp.json()["items"]] == expected_top([10, 11], 5)
    assert (await client.get("/users/erin/history")).json()["items"] == ["item30"]


async def test_batch_matches_single_requests(client: httpx.AsyncClient) -> None:
    await post_events(client, "u1", ["item4", "item6"])
    await post_events(client, "u2", ["item12"])
    requests = [
        {"user_id": "u1", "k": 3},
        {"user_id": "u2", "k": 7, "exclude_seen": False},
        {"user_id": "anon", "k": 2, "history": ["item20"]},
        {"user_id": "cold", "k": 2},
    ]
    resp = await client.post("/recommend/batch", json={"requests": requests})
    assert resp.status_code == 200, resp.text
    results = resp.json()["results"]
    singles = [(await client.post("/recommend", json=r)).json() for r in requests]
    assert results == singles
    assert [r["fallback"] for r in results] == [None, None, None, "popular"]


async def test_history_read_and_erasure(client: httpx.AsyncClient) -> None:
    await post_events(client, "frank", ["item1", "item2", "item3"])
    resp = await client.get("/users/frank/history")
    assert resp.json() == {"user_id": "frank", "items": ["item1", "item2", "item3"], "length": 3}
    assert (await client.get("/users/frank/history?limit=2")).json()["items"] == ["item2", "item3"]
    resp = await client.delete("/users/frank/history")
    assert resp.json() == {"user_id": "frank", "deleted": True}
    assert (await client.get("/users/frank/history")).json()["items"] == []
    assert (await client.delete("/users/frank/history")).json()["deleted"] is False
    body = (await client.post("/recommend", json={"user_id": "frank"})).json()
    assert body["fallback"] == "popular"
    assert len(body["items"]) == 10


async def test_repeated_event_id_is_stored_once(client: httpx.AsyncClient) -> None:
    event = {
        "user_id": "gina",
        "items": ["item1", "item2"],
        "event_id": "evt-42",
        "timestamp": "2024-05-01T12:00:00Z",
    }
    first = (await client.post("/events", json=event)).json()
    retry = (await client.post("/events", json=event)).json()
    assert first == {"user_id": "gina", "accepted": 2, "duplicate": False, "history_length": 2}
    assert retry == {"user_id": "gina", "accepted": 0, "duplicate": True, "history_length": 2}
    other = (await client.post("/events", json={**event, "event_id": "evt-43"})).json()
    assert other["history_length"] == 4
    single = (await client.post("/events", json={"user_id": "gina", "item_id": "item9"})).json()
    assert single["accepted"] == 1
    items = (await client.get("/users/gina/history")).json()["items"]
    assert items == ["item1", "item2", "item1", "item2", "item9"]


async def test_history_is_capped_to_the_newest(app_factory) -> None:  # type: ignore[no-untyped-def]
    _, client = await app_factory(history_max_len=3)
    await post_events(client, "hal", [f"item{i}" for i in range(1, 8)])
    assert (await client.get("/users/hal/history")).json()["items"] == ["item5", "item6", "item7"]


async def test_model_endpoint_reports_bundle_and_providers(client: httpx.AsyncClient) -> None:
    body = (await client.get("/model")).json()
    assert body["version"] == "fake-1"
    assert body["providers"] == ["CPUExecutionProvider"]
    assert body["max_k"] == 20
    assert body["bundle"]["onnx"]["file"] == "model.onnx"


async def test_health_ready_and_metrics(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["model_version"] == "fake-1"
    await client.post("/recommend", json={"user_id": "cold-metrics"})
    text = (await client.get("/metrics")).text
    assert 'paarec_model_info{provider="CPUExecutionProvider",version="fake-1"} 1.0' in text
    assert 'paarec_fallbacks_total{kind="popular"}' in text
    assert 'route="/recommend"' in text
    assert 'paarec_redis_duration_seconds_count{op="get"}' in text


async def test_request_id_is_echoed_or_generated(client: httpx.AsyncClient) -> None:
    resp = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert resp.headers["x-request-id"] == "abc-123"
    generated = (await client.get("/healthz")).headers["x-request-id"]
    assert len(generated) == 32


async def test_openapi_documents_the_error_body_the_service_sends(
    client: httpx.AsyncClient,
) -> None:
    """Generated clients must see ``{"error": ...}``, never FastAPI's ``detail`` shape."""
    schema = (await client.get("/openapi.json")).json()
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    error_ref = "#/components/schemas/ErrorResponse"
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    content = response["content"]["application/json"]["schema"]
                    assert content == {"$ref": error_ref}, (method, path, status)
    assert "422" in schema["paths"]["/recommend"]["post"]["responses"]
    assert "503" in schema["paths"]["/readyz"]["get"]["responses"]
    sent = await client.post("/recommend", json={"user_id": "x", "k": 0, "colour": "red"})
    assert sent.status_code == 422
    ErrorResponse.model_validate(sent.json())
    ErrorResponse.model_validate((await client.post("/recommend", content=b"{")).json())
