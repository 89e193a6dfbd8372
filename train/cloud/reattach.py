"""A waiting Function re-attaches to its running GPU call after a restart instead of starting a second one.

The waiting Function may itself be restarted (timeout, preemption, retry); without the marker
file a restart would start a second trainer writing to the same run folder. A training failure
(an error of the script, not of Modal) is recorded so that retries of this same call do not start
it again; a new invocation does.
"""

from __future__ import annotations

import json
from pathlib import Path

import modal

from train.cloud.layout import APP_NAME


def wait_for_gpu_call(fn: modal.Function, gpu: str, marker: Path, kwargs: dict, volume: modal.Volume):
    """Run ``fn`` on ``gpu`` and wait for it, re-attaching to the call recorded in ``marker`` while it runs.

    ``volume`` is the one ``marker`` lives in: reloaded first, committed after each write."""
    volume.reload()
    me = modal.current_function_call_id()
    job = {"gpu": gpu, "kwargs": kwargs}
    record = {**job, "waiter": me}
    if marker.is_file():
        saved = json.loads(marker.read_text())
        if {k: saved.get(k) for k in job} == job:
            if saved.get("failed") and saved.get("waiter") == me:
                raise RuntimeError(f"The {gpu} run failed in an earlier attempt of this call: {saved['failed']}")
            if not saved.get("failed"):
                call = modal.FunctionCall.from_id(saved["call_id"])
                try:
                    return call.get(timeout=0)  # it already finished
                except TimeoutError:  # the builtin one: still running, so wait for it
                    print(f"Re-attaching to the running call {saved['call_id']}", flush=True)
                    return _await(call, marker, {**record, "call_id": saved["call_id"]}, volume)
                except Exception as exc:  # cancelled, timed out, expired or failed: a new attempt resumes
                    print(f"Previous call {saved['call_id']} ended with {type(exc).__name__}; starting a new attempt")
    call = fn.with_options(gpu=gpu).spawn(**kwargs)
    record["call_id"] = call.object_id
    _write_marker(marker, record, volume)
    print(f"Started call {call.object_id} on {gpu}; follow it with `modal app logs {APP_NAME}`", flush=True)
    return _await(call, marker, record, volume)


def _write_marker(marker: Path, record: dict, volume: modal.Volume) -> None:
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps(record, indent=2) + "\n")
    volume.commit()


def _await(call: modal.FunctionCall, marker: Path, record: dict, volume: modal.Volume):
    try:
        return call.get()
    except Exception as exc:
        if not isinstance(exc, modal.exception.Error):  # the script failed: retrying this call would fail again
            _write_marker(marker, {**record, "failed": f"{type(exc).__name__}: {exc}"[:1000]}, volume)
        raise
