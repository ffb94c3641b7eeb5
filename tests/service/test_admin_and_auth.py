"""Model reload through /admin and API-key enforcement."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.service.conftest import ADMIN_KEY, API_KEY, AppFactory, build_bundle

ADMIN = {"X-API-Key": ADMIN_KEY}


@pytest.fixture
async def reload_client(app_factory: AppFactory, tmp_path: Path) -> httpx.AsyncClient:
    """An app whose reload root is this test's tmp_path, where the test builds its bundles."""
    _, client = await app_factory(bundle_root=tmp_path)
    return client


async def test_reload_swaps_to_a_good_bundle(
    reload_client: httpx.AsyncClient, tmp_path: Path
) -> None:
    client = reload_client
    new = build_bundle(tmp_path / "v2", version="fake-2", seed=7)
    resp = await client.post("/admin/reload", json={"path": str(new)}, headers=ADMIN)
    assert resp.status_code == 200, resp.text
    assert resp.json()["previous_version"] == "fake-1"
    assert resp.json()["model"]["version"] == "fake-2"
    rec = await client.post("/recommend", json={"user_id": "z", "history": ["item1"]})
    assert rec.json()["model_version"] == "fake-2"
    text = (await client.get("/metrics")).text
    assert 'paarec_model_info{provider="CPUExecutionProvider",version="fake-2"} 1.0' in text
    assert 'paarec_model_info{provider="CPUExecutionProvider",version="fake-1"} 0.0' in text


async def test_reload_without_body_uses_the_configured_path(client: httpx.AsyncClient) -> None:
    resp = await client.post("/admin/reload", headers=ADMIN)
    assert resp.status_code == 200
    assert resp.json()["model"]["version"] == "fake-1"


def _corrupt_onnx(path: Path) -> None:
    data = bytearray((path / "model.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (path / "model.onnx").write_bytes(bytes(data))


def _garbage_onnx_with_matching_sha(path: Path) -> None:
    (path / "model.onnx").write_bytes(b"not an onnx graph")
    meta = json.loads((path / "bundle.json").read_text())
    import hashlib

    meta["onnx"]["sha256"] = hashlib.sha256(b"not an onnx graph").hexdigest()
    (path / "bundle.json").write_text(json.dumps(meta))


@pytest.mark.parametrize(
    ("break_it", "reason"),
    [
        (_corrupt_onnx, "sha256 mismatch"),
        (lambda p: (p / "items.npy").unlink(), "items.npy missing"),
        (lambda p: (p / "bundle.json").write_text("{oops"), "bundle.json unreadable"),
        (_garbage_onnx_with_matching_sha, "failed to load or warm up"),
    ],
    ids=["sha-mismatch", "missing-items", "bad-json", "bad-graph"],
)
async def test_reload_of_a_broken_bundle_keeps_the_old_model(
    reload_client: httpx.AsyncClient,
    tmp_path: Path,
    break_it,
    reason: str,  # type: ignore[no-untyped-def]
) -> None:
    client = reload_client
    bad = build_bundle(tmp_path / "bad", version="broken")
    break_it(bad)
    resp = await client.post("/admin/reload", json={"path": str(bad)}, headers=ADMIN)
    assert resp.status_code == 422
    error = resp.json()["error"]
    assert error["code"] == "reload_failed"
    assert reason in error["message"]
    assert "fake-1" in error["message"]
    assert (await client.get("/model")).json()["version"] == "fake-1"
    rec = await client.post("/recommend", json={"user_id": "z", "history": ["item1"]})
    assert rec.status_code == 200


async def test_reload_of_a_missing_folder_says_so(
    reload_client: httpx.AsyncClient, tmp_path: Path
) -> None:
    path = str(tmp_path / "nowhere")
    resp = await reload_client.post("/admin/reload", json={"path": path}, headers=ADMIN)
    assert resp.status_code == 422
    assert "bundle folder not found" in resp.json()["error"]["message"]


@pytest.mark.parametrize("escape", ["outside", "dot-dot", "symlink"])
async def test_reload_refuses_a_bundle_outside_the_root(
    app_factory: AppFactory, tmp_path: Path, escape: str
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    outside = build_bundle(tmp_path / "elsewhere", version="sneaky")
    path = {
        "outside": outside,
        "dot-dot": root / ".." / "elsewhere",
        "symlink": root / "link",
    }[escape]
    if escape == "symlink":
        path.symlink_to(outside, target_is_directory=True)
    _, client = await app_factory(bundle_root=root)
    resp = await client.post("/admin/reload", json={"path": str(path)}, headers=ADMIN)
    assert resp.status_code == 403
    error = resp.json()["error"]
    assert error["code"] == "reload_forbidden"
    assert error["fields"] == [{"field": "path", "reason": "outside PAAREC_BUNDLE_ROOT"}]
    assert (await client.get("/model")).json()["version"] == "fake-1"


async def test_admin_needs_the_admin_key(client: httpx.AsyncClient) -> None:
    resp = await client.post("/admin/reload")
    assert resp.status_code == 401
    assert resp.json()["error"]["fields"] == [{"field": "X-API-Key", "reason": "missing"}]
    resp = await client.post("/admin/reload", headers={"X-API-Key": "wrong-key-0123456789"})
    assert resp.status_code == 401


async def test_admin_is_disabled_without_an_admin_key(app_factory: AppFactory) -> None:
    _, client = await app_factory(admin_api_key=None)
    resp = await client.post("/admin/reload", headers=ADMIN)
    assert resp.status_code == 403
    assert resp.json()["error"]["code"] == "admin_disabled"
    assert "PAAREC_ADMIN_API_KEY" in resp.json()["error"]["message"]


async def test_api_keys_guard_everything_but_probes(app_factory: AppFactory) -> None:
    _, client = await app_factory(api_keys=[API_KEY])
    for path in ("/healthz", "/readyz", "/metrics"):
        assert (await client.get(path)).status_code == 200, path
    body = {"user_id": "k"}
    assert (await client.post("/recommend", json=body)).status_code == 401
    assert (await client.post("/events", json={**body, "item_id": "item1"})).status_code == 401
    assert (await client.get("/users/k/history")).status_code == 401
    assert (await client.get("/model")).status_code == 401
    bad = {"X-API-Key": "x" * 20}
    assert (await client.post("/recommend", json=body, headers=bad)).status_code == 401
    good = {"X-API-Key": API_KEY}
    assert (await client.post("/recommend", json=body, headers=good)).status_code == 200
    assert (await client.get("/model", headers=good)).status_code == 200
    # the client key is not an admin key
    assert (await client.post("/admin/reload", headers=good)).status_code == 401


@pytest.mark.parametrize(
    "overrides",
    [
        {"environment": "production"},
        {"api_keys": ["short"]},
        {"api_keys": [ADMIN_KEY]},
        {"environment": "production", "api_keys": [API_KEY], "cors_origins": ["*"]},
    ],
    ids=["prod-without-keys", "short-key", "admin-equals-client", "prod-wildcard-cors"],
)
def test_unsafe_settings_are_refused(overrides: dict[str, object], bundle_dir: Path) -> None:
    from pydantic import ValidationError

    from tests.service.conftest import make_settings

    with pytest.raises(ValidationError):
        make_settings(bundle_dir, "redis://127.0.0.1:1/0", **overrides)


def test_settings_read_comma_separated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    from service.core.config import Settings

    monkeypatch.setenv("PAAREC_API_KEYS", f"{API_KEY},{API_KEY}x")
    monkeypatch.setenv("PAAREC_LENGTH_BUCKETS", "16,4,8")
    monkeypatch.setenv("PAAREC_ADMIN_API_KEY", ADMIN_KEY)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.api_key_values() == [API_KEY, f"{API_KEY}x"]
    assert settings.length_buckets == [4, 8, 16]
    assert ADMIN_KEY not in repr(settings)
    assert API_KEY not in str(settings.model_dump())
