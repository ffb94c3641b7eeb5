"""``make fuzz``: schema-driven fuzzing of the API with schemathesis; no request may get a 5xx.

Starts a private redis-server and the service on free ports with the given bundle (default:
the demo's ``artifacts/bundle``), runs ``schemathesis run`` against ``/openapi.json`` with the
``not_a_server_error`` check (plus response-schema conformance), and stops both.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

sys.path.insert(0, str(ROOT / "scripts"))
from demo import free_port  # noqa: E402


def wait_ready(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"error: {url} did not become ready")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bundle", type=Path, default=ROOT / "artifacts" / "bundle")
    parser.add_argument("--max-examples", type=int, default=50, help="per operation and phase")
    parser.add_argument("--max-time", type=int, default=240, help="seconds for the whole run")
    args = parser.parse_args()
    if not (args.bundle / "bundle.json").is_file():
        raise SystemExit(
            f"error: no bundle at {args.bundle}; run `make demo` first or pass --bundle"
        )
    server = shutil.which("redis-server")
    if server is None:
        raise SystemExit("error: redis-server not found (sudo apt-get install redis-server)")
    redis_port, api_port = free_port(), free_port()
    admin_key = secrets.token_hex(16)  # so that /admin/reload is fuzzed too, not only refused
    with tempfile.TemporaryDirectory() as data:
        redis = subprocess.Popen(
            [server, "--port", str(redis_port), "--dir", data, "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        env = {
            **os.environ,
            "PAAREC_BUNDLE_PATH": str(args.bundle),
            "PAAREC_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
            "PAAREC_PORT": str(api_port),
            "PAAREC_LOG_LEVEL": "ERROR",
            "PAAREC_ADMIN_API_KEY": admin_key,
        }
        service = subprocess.Popen([str(BIN / "paarec-serve")], env=env)
        try:
            base = f"http://127.0.0.1:{api_port}"
            wait_ready(f"{base}/readyz")
            command = [
                str(BIN / "schemathesis"),
                "run",
                f"{base}/openapi.json",
                "--checks",
                "not_a_server_error,response_schema_conformance",
                "--max-examples",
                str(args.max_examples),
                "--max-time",
                str(args.max_time),
                "--workers",
                "2",
                "--suppress-health-check",
                "all",
            ]
            print(" ".join(command), flush=True)
            command += ["--header", f"X-API-Key: {admin_key}"]
            code = subprocess.run(command, check=False).returncode
        finally:
            for process in (service, redis):
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=30)
    sys.exit(code)


if __name__ == "__main__":
    main()
