"""The naive baseline for the serving benchmark: eager PyTorch in a FastAPI endpoint.

What a first version of the service would look like: the training checkpoint loaded with
``load_checkpoint``, the full model run eagerly per request (``score_newest``), one request at a
time (a sync endpoint behind a lock), the same Redis key layout and the same response shape as
``POST /recommend``. No batching, no ONNX, no bucketing.

``python -m benchmarks.naive_server CHECKPOINT --port P --redis-url URL --prefix PREFIX``
"""

from __future__ import annotations

import argparse
import threading
from typing import Any

import numpy as np
import redis
import torch
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel

from training.checkpoint import load_checkpoint


class NaiveRequest(BaseModel):
    user_id: str
    k: int = 10
    exclude_seen: bool = True


def create_app(checkpoint: str, redis_url: str, prefix: str, threads: int) -> FastAPI:
    """The app; ``threads`` is torch's intra-op budget (same as the service's ORT budget)."""
    torch.set_num_threads(threads)
    ckpt = load_checkpoint(checkpoint)
    model, vocab = ckpt.model.eval(), ckpt.vocab
    max_len = model.settings.max_len
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    lock = threading.Lock()
    titles = ckpt.titles
    app = FastAPI(title="paarec-naive")

    @app.post("/recommend")
    def recommend(body: NaiveRequest) -> dict[str, Any]:
        with lock:  # one request at a time through the model
            key = f"{prefix}:{{user:{body.user_id}}}:history"
            history = [str(x) for x in client.lrange(key, -max_len, -1)]
            indices = vocab.encode(history)
            indices = indices[indices > 0][-max_len:]
            with torch.inference_mode():
                seq = torch.from_numpy(indices).unsqueeze(0)  # (1, L)
                scores = model.score_newest(seq)[0]  # (N + 1,)
                scores[0] = -torch.inf
                if body.exclude_seen:
                    scores[seq[0]] = -torch.inf
                top = torch.topk(scores, body.k)
        items = [
            {
                "item_id": str(vocab.items[i]),
                "score": float(s),
                **({"title": str(titles[i])} if titles is not None else {}),
            }
            for s, i in zip(top.values.tolist(), top.indices.tolist(), strict=True)
            if s != float("-inf")
        ]
        return {
            "user_id": body.user_id,
            "items": items,
            "model_version": "naive",
            "history_length": int(np.size(indices)),
            "fallback": None,
        }

    return app


def main() -> None:
    """Serve the baseline under uvicorn with one worker."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoint")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--redis-url", required=True)
    p.add_argument("--prefix", default="paarec")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    app = create_app(args.checkpoint, args.redis_url, args.prefix, args.threads)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
