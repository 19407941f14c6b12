"""The fake Message Batches API: create, retrieve (ending a batch when due), results, cancel.

Every request of a batch is answered by the rules of /v1/messages (fake_model.py); see
fake_api.py for when a batch ends and how a test holds or releases it.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import TYPE_CHECKING, Any

from fake_model import ERROR_TYPES, compose, count_tokens, flatten, invalid_request

if TYPE_CHECKING:
    from fake_server import FakeAPI


class BatchRoutes:
    """The batch endpoints, mixed into the server's request handler."""

    api: FakeAPI

    def _batch_post(self, rest: str, raw: bytes) -> None:
        """Create a batch (rest == "") or cancel one (rest == "/{id}/cancel")."""
        if not (self.headers.get("x-api-key") or self.headers.get("authorization")):
            self._error(401, "x-api-key header is required")
            return
        if rest.endswith("/cancel"):
            batch = self.api.batches.get(rest.removesuffix("/cancel").strip("/"))
            if batch is None:
                self._error(404, f"no batch {rest}")
                return
            with self.api.batch_lock:
                if batch["status"] == "in_progress":
                    batch["status"] = "canceling"
                    batch["cancel_initiated_at"] = rfc3339(time.time())
            self._send_json(200, batch_object(self.api, batch))
            return
        if rest not in ("", "/"):
            self._error(404, f"no route {self.path}")
            return
        if len(raw) > self.api.config.batch_max_bytes:
            self._error(413, f"batch is {len(raw)} bytes, over the size limit")
            return
        try:
            body = json.loads(raw)
        except ValueError:
            self._error(400, "request body is not valid JSON")
            return
        problem = invalid_batch(body, self.api.config.batch_max_requests)
        if problem:
            self._error(400, problem)
            return
        now = time.time()
        batch = {
            "id": f"msgbatch_fake_{uuid.uuid4().hex[:20]}",
            "status": "in_progress",
            "created": now,
            "polls": 0,
            "cancel_initiated_at": None,
            "ended_at": None,
            "requests": [
                {"custom_id": r["custom_id"], "params": r["params"]} for r in body["requests"]
            ],
            "results": None,
        }
        with self.api.batch_lock:
            self.api.batches[batch["id"]] = batch
        self._send_json(200, batch_object(self.api, batch))

    def _batch_get(self, rest: str) -> None:
        """Retrieve a batch (advancing its state) or its results."""
        if not (self.headers.get("x-api-key") or self.headers.get("authorization")):
            self._error(401, "x-api-key header is required")
            return
        batch_id, _, tail = rest.partition("/")
        batch = self.api.batches.get(batch_id)
        if batch is None or tail not in ("", "results"):
            self._error(404, f"no batch {rest}")
            return
        if tail == "":
            advance(self.api, batch)
            self._send_json(200, batch_object(self.api, batch))
            return
        if batch["results"] is None:
            self._error(400, f"batch {batch_id} is still {batch['status']}: no results yet")
            return
        lines = list(batch["results"])
        with self.api.lock:
            self.api.random.shuffle(lines)  # the API does not keep request order either
        raw = "".join(json.dumps(line) + "\n" for line in lines).encode()
        self.send_response(200)
        self.send_header("content-type", "application/x-jsonl")
        self.send_header("content-length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


CUSTOM_ID_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def rfc3339(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e6):06d}Z"


def invalid_batch(body: Any, max_requests: int) -> str | None:
    """The API's validation of a batch, reduced to what rlm-sub could get wrong."""
    requests = body.get("requests") if isinstance(body, dict) else None
    if not isinstance(requests, list) or not requests:
        return "requests: at least one request is required"
    if len(requests) > max_requests:
        return f"requests: at most {max_requests} requests per batch, got {len(requests)}"
    seen: set[str] = set()
    for i, r in enumerate(requests):
        if not isinstance(r, dict) or set(r) != {"custom_id", "params"}:
            return f"requests.{i}: must have exactly custom_id and params"
        cid = r["custom_id"]
        if not isinstance(cid, str) or not CUSTOM_ID_RE.match(cid):
            return f"requests.{i}.custom_id: must match ^[a-zA-Z0-9_-]{{1,64}}$"
        if cid in seen:
            return f"requests.{i}.custom_id: {cid} is not unique in the batch"
        seen.add(cid)
        problem = invalid_request(r["params"], counting=False)
        if problem:
            return f"requests.{i}.params.{problem[1]}"
        if r["params"].get("stream"):
            return f"requests.{i}.params.stream: streaming is not supported in batches"
    return None


def advance(api: FakeAPI, batch: dict[str, Any]) -> None:
    """One retrieve of a batch: count it, and end the batch when its time has come."""
    cfg = api.config
    with api.batch_lock:
        batch["polls"] += 1
        status = batch["status"]
        due = (
            batch.get("release")
            or (cfg.batch_polls is not None and batch["polls"] >= cfg.batch_polls)
            or (
                cfg.batch_seconds is not None
                and time.time() - batch["created"] >= cfg.batch_seconds
            )
        )
        if status in ("ended", "ending") or (status == "in_progress" and not due):
            return
        batch["status"] = "ending"  # other retrieves see it in progress until results exist
    if status == "canceling":
        results = [
            {"custom_id": r["custom_id"], "result": {"type": "canceled"}} for r in batch["requests"]
        ]
    else:
        results = [
            {"custom_id": r["custom_id"], "result": batch_result(api, r["custom_id"], r["params"])}
            for r in batch["requests"]
        ]
    with api.batch_lock:
        batch["results"] = results
        batch["ended_at"] = time.time()
        batch["status"] = "ended"


def batch_result(api: FakeAPI, custom_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """One request of a batch, answered by the rules of /v1/messages."""
    cfg = api.config
    if custom_id in cfg.batch_expire:
        return {"type": "expired"}
    users = [m for m in body["messages"] if m.get("role") == "user"] or body["messages"]
    system, user = flatten(body.get("system")), flatten(users[-1]["content"])
    tokens = count_tokens(system) + sum(
        count_tokens(flatten(m["content"])) for m in body["messages"]
    )
    directive = re.search(r"FAIL:(\d{3})", system + "\n" + user)
    fault = api.fault()
    if directive:
        status, message = int(directive[1]), f"injected by FAIL:{directive[1]}"
    elif fault:
        status = int(fault) if fault.isdigit() else 500
        message = f"injected {fault} fault"
    elif tokens > cfg.context_window:
        status, message = 400, f"prompt is too long: {tokens} tokens > {cfg.context_window} maximum"
    else:
        return {"type": "succeeded", "message": compose(api, body, system, user, tokens)}
    error = {"type": ERROR_TYPES.get(status, "api_error"), "message": message}
    return {
        "type": "errored",
        "error": {
            "type": "error",
            "error": error,
            "request_id": f"req_fake_{uuid.uuid4().hex[:16]}",
        },
    }


def batch_object(api: FakeAPI, batch: dict[str, Any]) -> dict[str, Any]:
    """The batch as the API shows it."""
    with api.batch_lock:
        ended = batch["status"] == "ended"
        counts = dict.fromkeys(("processing", "succeeded", "errored", "canceled", "expired"), 0)
        if ended:
            for line in batch["results"]:
                counts[line["result"]["type"]] += 1
        else:
            counts["processing"] = len(batch["requests"])
        return {
            "id": batch["id"],
            "type": "message_batch",
            "processing_status": batch["status"] if batch["status"] != "ending" else "in_progress",
            "request_counts": counts,
            "created_at": rfc3339(batch["created"]),
            "expires_at": rfc3339(batch["created"] + 86400),
            "ended_at": rfc3339(batch["ended_at"]) if ended else None,
            "archived_at": None,
            "cancel_initiated_at": batch["cancel_initiated_at"],
            "results_url": f"{api.url}/v1/messages/batches/{batch['id']}/results"
            if ended
            else None,
        }
