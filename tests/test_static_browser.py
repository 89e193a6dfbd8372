"""The static page in a real Chromium (Playwright) served by static_site/serve.py on localhost.

Models: tiny ONNX models made by the project's exporter (or, until it exists, by
static_site.testing's torch.onnx fallback). References: the Python onnxruntime sampler and
classifier. Headless Chromium has no WebGPU adapter, so the page must fall back to WASM
and say so.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from helpers import BROWSER_MARKS, assert_matches_python, image_from_page, ready_models
from PIL import Image

from static_site import testing as st

pytestmark = BROWSER_MARKS


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("static_models")
    if ready := ready_models("CATS_DIT_STATIC_MODELS", work / "models"):
        return ready
    folder, how = st.make_models(work)
    print(f"models made with {how}")
    return folder


def vendor_files(requests: list[str]) -> set[str]:
    return {u.rsplit("/", 1)[1] for u in requests if "/vendor/" in u}


WASM_BUILD = {"ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"}
WEBGPU_BUILD = {"ort.webgpu.min.mjs", "ort-wasm-simd-threaded.asyncify.mjs", "ort-wasm-simd-threaded.asyncify.wasm"}


@pytest.mark.parametrize("isolated", [True, False], ids=["isolated", "not-isolated"])
def test_page_falls_back_to_wasm_reports_threads_and_generates(page, isolated, isolated_url, plain_url, models):
    requests = []
    page.context.on("request", lambda r: requests.append(r.url))
    # ?coi=0: no isolation service worker, i.e. a plain static host as seen by a browser without it.
    page.goto(isolated_url if isolated else plain_url + "?coi=0")
    st.wait_ready(page, "generator")
    # Only the WASM build of onnxruntime-web is fetched, never the (bigger) WebGPU one.
    assert vendor_files(requests) == WASM_BUILD, vendor_files(requests)
    badge = page.locator("#badge")
    assert badge.get_attribute("data-backend") == "wasm"
    assert badge.get_attribute("data-fallback"), "the WebGPU fallback reason is not reported"
    note = page.locator("#runtime-note").inner_text()
    assert "WebGPU not used" in note and "WASM" in badge.inner_text()
    threads = int(badge.get_attribute("data-threads"))
    cores = page.evaluate("navigator.hardwareConcurrency")
    if isolated:
        assert page.evaluate("crossOriginIsolated") is True
        # The count is measured on first load (tests/test_static_external_data.py checks how).
        choice = page.evaluate("window.catsDit.runtime.threadChoice")
        assert threads == choice["threads"] and choice["how"] in ("measured", "cached", "one core"), choice
        assert 1 <= threads <= min(4, cores)
    else:
        assert page.evaluate("crossOriginIsolated") is False
        assert threads == 1 and "one WASM thread" in note
    assert f"{threads} thread" in badge.inner_text()
    result = st.generate_in_page(page, breed=1, steps=6, guidance=3.0, solver="euler", seed=42)
    assert_matches_python(models, result, 1, 6, 3.0, "euler", 42)
    assert len(result["stepMs"]) == 6 and result["totalMs"] > 0
    previews = page.evaluate("window.catsDit.events.filter(e => e.type === 'preview').map(e => e.i)")
    assert previews == [0, 1, 2, 3, 4], previews  # a preview after every step but the last (6 steps)
    assert "ms per step" in page.locator("#gen-timing").inner_text()


def test_webgpu_adapter_is_used_when_present(browser, isolated_url, models):
    """Chromium's software WebGPU adapter (SwiftShader, --enable-unsafe-webgpu): the page loads
    the WebGPU build only, reports WebGPU, and still draws Python's image."""
    gpu_browser = browser.browser_type.launch(
        executable_path=st.CHROMIUM, args=[*st.CHROMIUM_ARGS, "--enable-unsafe-webgpu"]
    )
    try:
        page = gpu_browser.new_page()
        page.set_default_timeout(180_000)
        page.goto(isolated_url + "style.css")  # a secure context, before the page starts
        if not page.evaluate("async () => !!(navigator.gpu && await navigator.gpu.requestAdapter())"):
            pytest.skip("this Chromium offers no WebGPU adapter even with --enable-unsafe-webgpu")
        requests = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(isolated_url)
        st.wait_ready(page, "generator", timeout_ms=180_000)
        assert page.get_attribute("#badge", "data-backend") == "webgpu"
        assert page.locator("#badge").inner_text().startswith("WebGPU")
        assert vendor_files(requests) == WEBGPU_BUILD, vendor_files(requests)
        result = st.generate_in_page(page, breed=6, steps=3, guidance=3.0, solver="euler", seed=8, timeout_ms=180_000)
        assert_matches_python(models, result, 6, 3, 3.0, "euler", 8, gpu=True)
    finally:
        gpu_browser.close()


def test_service_worker_isolates_a_host_without_headers(page, plain_url, models):
    """GitHub Pages sends no COOP/COEP: coi-sw.js adds them after one reload, so threads work."""
    page.goto(plain_url)
    st.wait_ready(page, "generator")
    assert page.evaluate("crossOriginIsolated") is True
    assert page.evaluate("navigator.serviceWorker.controller !== null")
    cores = page.evaluate("navigator.hardwareConcurrency")
    threads = int(page.get_attribute("#badge", "data-threads"))
    assert threads == page.evaluate("window.catsDit.runtime.threadChoice.threads") and 1 <= threads <= min(4, cores)
    result = st.generate_in_page(page, breed=2, steps=3, guidance=3.0, solver="euler", seed=3)
    assert_matches_python(models, result, 2, 3, 3.0, "euler", 3)


def test_heun_without_guidance_and_png_download(page, isolated_url, models):
    page.goto(isolated_url)
    st.wait_ready(page, "generator")
    result = st.generate_in_page(page, breed=10, steps=4, guidance=1.0, solver="heun", seed=4294967295)
    assert len(result["stepMs"]) == 7  # Heun: 2N - 1 model calls
    assert_matches_python(models, result, 10, 4, 1.0, "heun", 4294967295)
    # The PNG download holds exactly the pixels shown.
    with page.expect_download() as info:
        page.click("#download")
    path = info.value.path()
    png = np.asarray(Image.open(path).convert("RGB"))
    assert np.array_equal(png, image_from_page(result)[1])
    assert "seed4294967295" in info.value.suggested_filename


def test_url_hash_reproduces_the_image(page, isolated_url, models):
    page.goto(isolated_url + "#breed=Persian&steps=5&guidance=2.5&sampler=euler&seed=77")
    page.wait_for_function("() => window.catsDit && window.catsDit.lastImage", timeout=60_000)
    result = page.evaluate("() => window.catsDit.lastImage")
    assert result["settings"]["breed"] == 7 and result["settings"]["seed"] == 77
    assert_matches_python(models, result, 7, 5, 2.5, "euler", 77)
    # Generating again with other settings writes them into the hash.
    st.generate_in_page(page, breed=3, steps=2, guidance=1.5, solver="heun", seed=5)
    default = json.loads((models / "models.json").read_text())["generator"]["default_precision"]
    expected = f"#breed=Bombay&steps=2&guidance=1.5&sampler=heun&seed=5&precision={default}"
    assert page.evaluate("location.hash") == expected


def test_cancel_stops_generation(page, isolated_url):
    page.goto(isolated_url)
    st.wait_ready(page, "generator")
    page.fill("#steps", "500")
    page.select_option("#sampler", "heun")
    page.click("#generate")
    page.wait_for_function("() => /^Step/.test(document.querySelector('#gen-status').textContent)")
    page.click("#cancel")
    page.wait_for_function("() => document.querySelector('#gen-status').dataset.state === 'cancelled'", timeout=30_000)
    assert page.evaluate("window.catsDit.lastImage") is None
    assert page.is_enabled("#generate")


def test_every_precision_loads_and_matches_python(page, isolated_url, models):
    """The precision menu switches the generator file; each matches Python at that precision."""
    config = json.loads((models / "models.json").read_text())
    page.goto(isolated_url)
    st.wait_ready(page, "generator")
    default = config["generator"]["default_precision"]
    assert page.evaluate("window.catsDit.state.ready.generator.precision") == default
    for precision in config["generator"]["files"]:
        if precision != page.evaluate("window.catsDit.state.ready.generator.precision"):
            page.select_option("#gen-precision", precision)
            page.wait_for_function(f"() => window.catsDit.state.ready.generator?.precision === '{precision}'")
        result = st.generate_in_page(page, breed=4, steps=4, guidance=3.0, solver="euler", seed=11)
        assert result["settings"]["precision"] == precision
        assert_matches_python(models, result, 4, 4, 3.0, "euler", 11, precision=precision)


def cartoon_image(path: Path) -> tuple[Path, int]:
    """A cartoon cat of a known breed (Bengal) as JPEG; a plain drawing if the data module is absent."""
    try:
        from cats_dit.data.cartoon import draw_class

        img = draw_class(1, np.random.default_rng(3), (150, 118))
    except ImportError:
        img = Image.fromarray(np.random.default_rng(3).integers(0, 256, (118, 150, 3), dtype=np.uint8))
    img.convert("RGB").save(path, "JPEG", quality=92)
    return path, 1


def test_classify_image_and_generated_image_match_python(page, isolated_url, models, tmp_path):
    page.goto(isolated_url)
    st.wait_ready(page, "classifier")
    path, _ = cartoon_image(tmp_path / "Bengal_1.jpg")
    page.set_input_files("#file", str(path))
    page.wait_for_function("() => document.querySelector('#classify-status').dataset.state === 'done'")
    got = np.asarray(page.evaluate("window.catsDit.lastClassification.probs"))
    ref = st.reference_classify(models, path)
    # Probabilities must vary well beyond the 1e-3 tolerance, or the comparison would mean little.
    assert ref.max() - ref.min() > 0.02, f"the test classifier is near uniform: {ref}"
    print(f"classify jpeg: max |p_js - p_py| = {np.abs(got - ref).max():.2e}")
    assert got.argmax() == ref.argmax()
    np.testing.assert_allclose(got, ref, atol=1e-3)
    items = page.locator("#classify-results li")
    assert items.count() == 5
    assert int(items.first.get_attribute("data-index")) == int(ref.argmax())
    # "Classify this" on a generated image equals Python on the same pixels.
    result = st.generate_in_page(page, breed=0, steps=3, guidance=3.0, solver="euler", seed=1)
    page.click("#classify-this")
    page.wait_for_function(
        "() => document.querySelector('#classify-status').dataset.state === 'done' && "
        "document.querySelector('#classify-preview').classList.contains('pixelated')"
    )
    got = np.asarray(page.evaluate("window.catsDit.lastClassification.probs"))
    ref = st.reference_classify(models, Image.fromarray(image_from_page(result)[1]))
    assert got.argmax() == ref.argmax()
    np.testing.assert_allclose(got, ref, atol=1e-3)


def test_second_load_uses_the_cache(browser, isolated_url):
    context = browser.new_context()
    model_responses = []
    context.on("response", lambda r: model_responses.append(r.url) if r.url.endswith(".onnx") else None)
    page = context.new_page()
    try:
        page.goto(isolated_url)
        st.wait_ready(page, "generator")
        st.wait_ready(page, "classifier")
        first = len(model_responses)
        assert first == 2, f"first visit should download both models, saw {model_responses}"
        model_responses.clear()
        page.reload()
        st.wait_ready(page, "generator")
        st.wait_ready(page, "classifier")
        assert model_responses == [], f"second visit downloaded {model_responses}"
        assert "from cache" in page.locator('.progress-row[data-section="generator"] .progress-text').inner_text()
    finally:
        context.close()


def break_entry(models: Path, config: dict, section: str, kind: str) -> None:
    """Break the default-precision file entry of ``section`` in ``config`` (in place)."""
    entry = config[section]["files"][config[section]["default_precision"]]
    if kind == "sha":
        entry["sha256"] = "0" * 64
    elif kind == "missing":
        entry["name"] = "does-not-exist.onnx"
    elif kind == "truncated":
        data = (models / entry["name"]).read_bytes()
        (models / f"truncated-{section}.onnx").write_bytes(data[: len(data) // 2])
        entry["name"] = f"truncated-{section}.onnx"


ERRORS = {
    "sha": "failed its sha256 check",
    "missing": "is missing on the server (HTTP 404",
    "truncated": "is truncated",
}


@pytest.mark.parametrize(
    "generator, classifier",
    [("sha", "truncated"), ("missing", None), ("truncated", "missing")],
    ids=["sha+truncated", "missing+ok", "truncated+missing"],
)
def test_broken_models_show_a_clear_error(page, isolated_url, models, generator, classifier):
    config = json.loads((models / "models.json").read_text())
    break_entry(models, config, "generator", generator)
    if classifier:
        break_entry(models, config, "classifier", classifier)
    name = f"models-{generator}-{classifier}.json"
    (models / name).write_text(json.dumps(config))
    page.goto(f"{isolated_url}?models=models/{name}")
    page.wait_for_function(
        "() => document.querySelector('#classify-status').dataset.state !== 'idle' || "
        "window.catsDit?.state.ready.classifier"
    )
    gen_errors = page.locator('#errors .error[data-section="Generator"]').all_inner_texts()
    assert len(gen_errors) == 1 and ERRORS[generator] in gen_errors[0], gen_errors
    assert page.locator("#gen-status").get_attribute("data-state") == "error"
    assert page.is_disabled("#generate")
    if classifier:
        clf_errors = page.locator('#errors .error[data-section="Classifier"]').all_inner_texts()
        assert len(clf_errors) == 1 and ERRORS[classifier] in clf_errors[0], clf_errors
        assert page.locator("#classify-status").get_attribute("data-state") == "error"
    else:  # a broken generator does not stop the classifier
        page.wait_for_function("() => window.catsDit.state.ready.classifier")


def test_missing_models_json_shows_a_clear_error(page, isolated_url):
    page.goto(f"{isolated_url}?models=models/nope.json")
    page.wait_for_selector("#errors .error")
    text = page.locator("#errors").inner_text()
    assert "models.json is missing" in text and "python -m export" in text, text
    assert page.locator("#gen-status").get_attribute("data-state") == "error"
    assert page.is_disabled("#generate")


@pytest.mark.skipif(
    os.environ.get("CATS_DIT_SCREENSHOTS") is None, reason="set CATS_DIT_SCREENSHOTS=DIR to save screenshots"
)
def test_screenshots(browser, isolated_url):
    out = Path(os.environ["CATS_DIT_SCREENSHOTS"])
    out.mkdir(parents=True, exist_ok=True)
    for name, viewport in [("desktop", {"width": 1100, "height": 900}), ("phone", {"width": 390, "height": 844})]:
        context = browser.new_context(viewport=viewport)
        page = context.new_page()
        page.goto(isolated_url)
        st.wait_ready(page, "classifier")
        st.generate_in_page(page, breed=1, steps=8, guidance=3.0, solver="euler", seed=42)
        page.click("#classify-this")
        page.wait_for_function("() => document.querySelector('#classify-status').dataset.state === 'done'")
        page.screenshot(path=str(out / f"static_{name}.png"), full_page=True)
        context.close()
    assert (out / "static_phone.png").stat().st_size > 0
