"""The static page with a generator whose weights live in external data files (how the
exporter writes models over its per-file limit, e.g. the s128 fp32 export), in real Chromium.

The exporter is run on a tiny random pipeline with ``--max-file-mb`` far below its size, so
the split is real: generator.onnx holds the graph, generator.onnx.data0... the weights.
Reference: the Python onnxruntime sampler on the same folder. Also covers the thread count the
page measures on first load and keeps in its cache.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import BROWSER_MARKS, REPO, assert_matches_python, ready_models

from static_site import testing as st

pytestmark = BROWSER_MARKS


def export(args: list[str]) -> None:
    proc = subprocess.run([sys.executable, "-m", "export", *args], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]


def make_external_models(work: Path) -> Path:
    """A tiny random pipeline exported with a 0.25 MB file limit (its generator splits into
    several data files), next to a classifier exported whole (one of its tensors alone is over
    that limit), merged into one models.json."""
    pipeline, classifier = st.build_tiny_models(work)
    out, clf = work / "models", work / "classifier_models"
    fp32 = ["--precisions", "fp32"]
    export(["--pipeline", str(pipeline), "--classifier", "none", "--output", str(out), *fp32, "--max-file-mb", "0.25"])
    export(["--pipeline", "none", "--classifier", str(classifier), "--output", str(clf), *fp32])
    document = json.loads((out / "models.json").read_text())
    document["classifier"] = json.loads((clf / "models.json").read_text())["classifier"]
    for entry in document["classifier"]["files"].values():
        shutil.copy(clf / entry["name"], out / entry["name"])
    (out / "models.json").write_text(json.dumps(document, indent=2))
    return out


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("external")
    return ready_models("CATS_DIT_EXTERNAL_MODELS", work / "models") or make_external_models(work)


@pytest.fixture
def page_options() -> dict:
    return {"timeout_ms": 120_000}  # the page measures its thread count on first load


def test_export_splits_the_generator_and_lists_every_part(models):
    entry = json.loads((models / "models.json").read_text())["generator"]["files"]["fp32"]
    parts = entry.get("external_data", [])
    assert len(parts) >= 2, f"the exporter did not split the generator: {entry}"
    for part in parts:
        assert (models / part["name"]).stat().st_size == part["size"]
        assert part["name"].startswith("generator.onnx.data") and len(part["sha256"]) == 64
    # The .onnx itself holds the graph only: far smaller than its weights.
    assert entry["size"] < sum(p["size"] for p in parts) / 4


def test_external_data_model_loads_and_matches_python(page, isolated_url, models):
    requests = []
    page.on("request", lambda r: requests.append(r.url.rsplit("/", 1)[1]))
    page.goto(isolated_url)
    st.wait_ready(page, "generator", timeout_ms=120_000)
    entry = json.loads((models / "models.json").read_text())["generator"]["files"]["fp32"]
    fetched = {name for name in requests if name.startswith("generator.onnx")}
    assert fetched == {"generator.onnx", *(p["name"] for p in entry["external_data"])}, fetched
    ready = page.evaluate("window.catsDit.state.ready.generator")
    assert ready["externalFiles"] == len(entry["external_data"])
    assert ready["size"] == entry["size"] + sum(p["size"] for p in entry["external_data"])
    result = st.generate_in_page(page, breed=3, steps=4, guidance=3.0, solver="euler", seed=21)
    assert_matches_python(models, result, 3, 4, 3.0, "euler", 21)


def test_thread_count_is_measured_then_cached(page, isolated_url):
    """No ?threads: the page times each candidate count on the generator and uses the fastest;
    a second visit reads the choice from its cache instead of measuring again."""
    page.goto(isolated_url)
    st.wait_ready(page, "generator", timeout_ms=120_000)
    choice = page.evaluate("window.catsDit.runtime.threadChoice")
    cores = page.evaluate("navigator.hardwareConcurrency")
    if cores == 1:
        assert choice["threads"] == 1
        return
    assert choice["how"] == "measured", choice
    timings = {int(k): v for k, v in choice["timings"].items()}
    assert 1 in timings and len(timings) >= 2 and all(v > 0 for v in timings.values()), timings
    fastest = min(timings, key=timings.get)
    # Fewer threads win ties (within 5%); otherwise the fastest count is used.
    assert timings[choice["threads"]] <= timings[fastest] / 0.95 + 1e-9, choice
    assert int(page.get_attribute("#badge", "data-threads")) == choice["threads"]
    page.reload()
    st.wait_ready(page, "generator", timeout_ms=120_000)
    again = page.evaluate("window.catsDit.runtime.threadChoice")
    assert again["how"] == "cached" and again["threads"] == choice["threads"], again


def test_damaged_external_data_file_shows_a_clear_error(page, isolated_url, models):
    config = json.loads((models / "models.json").read_text())
    part = config["generator"]["files"]["fp32"]["external_data"][-1]
    data = (models / part["name"]).read_bytes()
    (models / "damaged.data").write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    # Same size, one flipped bit: only the sha256 check can catch it. The graph names its
    # files, so serve the damaged copy under the real name through a second folder.
    broken = models.parent / "broken"
    shutil.copytree(models, broken, dirs_exist_ok=True)
    shutil.copy(models / "damaged.data", broken / part["name"])
    with st.serve(broken, isolation=True) as base:
        page.goto(base)
        page.wait_for_selector('#errors .error[data-section="Generator"]', timeout=120_000)
        text = page.locator('#errors .error[data-section="Generator"]').inner_text()
    assert part["name"] in text and "failed its sha256 check" in text, text
    assert page.is_disabled("#generate")
