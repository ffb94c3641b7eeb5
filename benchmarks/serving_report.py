"""docs/benchmarks/serving.{json,md,png} from the serving benchmark's records."""

from __future__ import annotations

import json
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "benchmarks"
GENERATED_BEGIN = "<!-- serving-benchmark:begin (generated; edit outside these marks) -->"
GENERATED_END = "<!-- serving-benchmark:end -->"


def _row(cells: list[Any]) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    return [_row(header), _row(["---"] * len(header)), *(_row(r) for r in rows)]


def _f(x: float, nd: int = 1) -> str:
    return f"{x:.{nd}f}"


def goals(records: list[dict[str, Any]], extra: dict[str, Any]) -> list[list[Any]]:
    """The four goals: measured value, target, met."""
    by = {(r["system"], r["concurrency"]): r for r in records}
    raw = [r for r in records if r["system"] == "raw_ort"]
    raw_best = max(raw, key=lambda r: r["rps"])
    svc = [r for r in records if r["system"] == "service"]
    naive = [r for r in records if r["system"] == "naive"]
    svc_best = max(svc, key=lambda r: r["rps"])
    naive_best = max(naive, key=lambda r: r["rps"])
    p99_wins = [
        by[("service", r["concurrency"])]["p99_ms"] < r["p99_ms"]
        for r in naive
        if ("service", r["concurrency"]) in by
    ]
    open_loop = next(r for r in records if r["system"] == "service_open_loop")
    million = next(c for c in extra["catalogue"] if c["n_items"] == 1_000_000)
    share = svc_best["rps"] / raw_best["rps"]
    speedup = svc_best["rps"] / naive_best["rps"]
    top_ratio = million["p50_ms"] / million["floor_ms"]
    return [
        [
            "service / raw ORT batched throughput",
            f"{_f(svc_best['rps'], 0)} / {_f(raw_best['rps'], 0)} = {share:.2f}",
            ">= 0.70",
            "yes" if share >= 0.7 else "**no**",
        ],
        [
            "service / naive best throughput",
            f"{_f(svc_best['rps'], 0)} / {_f(naive_best['rps'], 0)} = {speedup:.1f}x",
            ">= 3x",
            "yes" if speedup >= 3 else "**no**",
        ],
        [
            "service p99 < naive p99 at every concurrency",
            f"{sum(p99_wins)}/{len(p99_wins)}",
            "all",
            "yes" if all(p99_wins) else "**no**",
        ],
        [
            f"p99 at 50% of max rps (open loop, {_f(open_loop['rate'], 0)} req/s)",
            f"{_f(open_loop['p99_ms'], 2)} ms",
            "<= 25 ms",
            "yes" if open_loop["p99_ms"] <= 25 else "**no**",
        ],
        [
            "1M-item top-K p50 (batch 1) / memory-stream floor",
            f"{_f(million['p50_ms'], 2)} / {_f(million['floor_ms'], 2)} ms = {top_ratio:.2f}x",
            "<= 1.5x",
            "yes" if top_ratio <= 1.5 else "**no**",
        ],
    ]


def markdown(records: list[dict[str, Any]], extra: dict[str, Any], command: str) -> str:
    out = [
        f"Command: `{command}` — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"{platform.machine()}, {extra.get('cpus', '?')} CPUs, "
        f"bundle n_items={extra['n_items']}, T={extra['max_len']}, d={extra['hidden']}, "
        f"run took {extra['elapsed_s']:.0f} s.",
        "",
        "### Goals",
        "",
        *_table(["goal", "measured", "target", "met"], goals(records, extra)),
        "",
        "### Throughput and latency (closed loop; raw ORT: one batch per call)",
        "",
    ]
    naive = {r["concurrency"]: r for r in records if r["system"] == "naive"}
    rows = []
    for r in records:
        if r["system"] not in ("raw_ort", "service", "naive"):
            continue
        ratio = ""
        if r["system"] == "service" and r["concurrency"] in naive:
            n = naive[r["concurrency"]]
            ratio = f"{r['rps'] / n['rps']:.1f}x rps, {n['p99_ms'] / r['p99_ms']:.1f}x lower p99"
        rows.append(
            [
                r["system"],
                r.get("batch_size", ""),
                r["concurrency"],
                _f(r["rps"], 0),
                _f(r["p50_ms"], 2),
                _f(r["p95_ms"], 2),
                _f(r["p99_ms"], 2),
                r.get("errors", 0),
                ratio,
            ]
        )
    out += _table(
        ["system", "batch", "concurrency", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors",
         "service vs naive"],
        rows,
    )  # fmt: skip
    ol = next(r for r in records if r["system"] == "service_open_loop")
    out += [
        "",
        f"Open loop (Poisson arrivals) at {ol['rate']:.0f} req/s = 50% of the service's best "
        f"closed-loop throughput: achieved {ol['rps']:.0f} req/s, p50 {ol['p50_ms']:.2f} ms, "
        f"p95 {ol['p95_ms']:.2f} ms, p99 {ol['p99_ms']:.2f} ms, errors {ol['errors']}.",
        "",
        "### Latency vs catalogue size (raw ORT, batch 1, whole graph incl. masking + top-K)",
        "",
    ]
    out += _table(
        ["items", "p50 ms", "p99 ms", "stream floor ms", "p50 / floor"],
        [
            [c["n_items"], _f(c["p50_ms"], 3), _f(c["p99_ms"], 3), _f(c["floor_ms"], 3),
             f"{c['p50_ms'] / c['floor_ms']:.2f}"]
            for c in extra["catalogue"]
        ],
    )  # fmt: skip
    out += ["", "### Latency vs history length (raw ORT p50 ms)", ""]
    lengths = sorted({x["history_length"] for x in extra["lengths"]})
    cell = {(x["history_length"], x["batch_size"]): x["p50_ms"] for x in extra["lengths"]}
    out += _table(
        ["history length", *(str(n) for n in lengths)],
        [[f"batch {b}", *(_f(cell[(n, b)], 3) for n in lengths)] for b in (1, 32)],
    )
    if extra.get("options"):
        out += ["", "### ORT session options (raw ORT; p50 ms at batch 1 and 32)", ""]
        out += _table(
            ["intra-op threads", "spinning", "graph opt", "mem pattern", "b1 p50", "b32 p50",
             "b32 rows/s"],
            [
                [o["intra_op_threads"], o["allow_spinning"], o["graph_optimization"],
                 o["enable_mem_pattern"], _f(o["b1_p50_ms"], 3), _f(o["b32_p50_ms"], 3),
                 _f(o["b32_rps"], 0)]
                for o in extra["options"]
            ],
        )  # fmt: skip
    out += ["", f"Service settings: `{json.dumps(extra.get('settings', {}))}`", ""]
    return "\n".join(out)


def plot(records: list[dict[str, Any]], extra: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(18, 4))
    for system in ("service", "naive"):
        rs = [r for r in records if r["system"] == system]
        axes[0].plot([r["concurrency"] for r in rs], [r["p99_ms"] for r in rs], "o-", label=system)
        axes[1].plot([r["concurrency"] for r in rs], [r["rps"] for r in rs], "o-", label=system)
    raw = [r for r in records if r["system"] == "raw_ort"]
    axes[1].plot([r["batch_size"] for r in raw], [r["rps"] for r in raw], "s--", label="raw ORT")
    for ax, title in ((axes[0], "p99 ms vs concurrency"), (axes[1], "req/s vs concurrency")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_title(title)
        ax.legend()
    cat = extra["catalogue"]
    axes[2].loglog([c["n_items"] for c in cat], [c["p50_ms"] for c in cat], "o-", label="p50")
    axes[2].loglog([c["n_items"] for c in cat], [c["floor_ms"] for c in cat], "--", label="floor")
    axes[2].set_title("batch-1 ms vs catalogue size")
    axes[2].legend()
    for b in (1, 32):
        xs = [x for x in extra["lengths"] if x["batch_size"] == b]
        axes[3].plot(
            [x["history_length"] for x in xs], [x["p50_ms"] for x in xs], "o-", label=f"batch {b}"
        )
    axes[3].set_title("raw ORT p50 ms vs history length")
    axes[3].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def write_report(records: list[dict[str, Any]], extra: dict[str, Any], command: str) -> str:
    """Write serving.json (the records), serving.sweeps.json (sweeps, settings) and
    serving.png, and splice the tables into serving.md."""
    DOCS.mkdir(parents=True, exist_ok=True)
    (DOCS / "serving.json").write_text(json.dumps(records, indent=1) + "\n")
    (DOCS / "serving.sweeps.json").write_text(json.dumps(extra, indent=1) + "\n")
    plot(records, extra, DOCS / "serving.png")
    text = markdown(records, extra, command)
    md = DOCS / "serving.md"
    body = f"{GENERATED_BEGIN}\n{text}\n{GENERATED_END}"
    if md.is_file() and GENERATED_BEGIN in md.read_text():
        head, rest = md.read_text().split(GENERATED_BEGIN, 1)
        md.write_text(head + body + rest.split(GENERATED_END, 1)[1])
    else:
        md.write_text(f"# Serving benchmark\n\n{body}\n")
    return text
