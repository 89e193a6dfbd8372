"""The app in a real Chromium (Debian's /usr/bin/chromium driven by Playwright)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import BROWSER_MARKS
from test_app import ROOT, app  # test_app sets GRADIO_ANALYTICS_ENABLED before gradio loads

from cats_dit.serving import configure_pil, load_service
from cats_dit.testing import free_port, make_tiny_models

pytestmark = BROWSER_MARKS


@pytest.fixture
def page_options() -> dict:
    return {"viewport": {"width": 1280, "height": 900}, "timeout_ms": 30_000}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    configure_pil()
    pipeline, classifier = make_tiny_models(tmp_path_factory.mktemp("browser_models"))
    demo = app.build_demo(load_service(str(pipeline), str(classifier), backend="torch"))
    _, url, _ = app.launch(demo, "127.0.0.1", free_port(), prevent_thread_lock=True, quiet=True)
    yield url
    demo.close()


def test_generate_and_classify_in_chromium(server, page, tmp_path):
    shots = Path(os.environ.get("CATS_DIT_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    outside = []
    local = (server, "data:", "blob:")
    page.on("request", lambda r: None if r.url.startswith(local) else outside.append(r.url))
    page.goto(server)

    # Generate: pick a breed, press Generate, see images with their seeds.
    page.get_by_label("Breed").click()
    page.get_by_role("option", name="Maine Coon").click()
    seed = page.get_by_label("Seed")
    page.get_by_role("button", name="Randomize").click()
    page.wait_for_function("() => document.querySelector('#seed-row input').value !== '0'", timeout=30_000)
    seed.fill("31337")
    page.get_by_role("button", name="Generate", exact=True).click()
    page.locator("#status").get_by_text("Done:").wait_for(timeout=90_000)
    images = page.locator("#gallery img")
    assert images.count() == 4
    assert images.first.evaluate("img => img.complete && img.naturalWidth") == 16
    assert "Maine Coon · seed 31337" in page.locator("#gallery").inner_text()
    page.screenshot(path=str(shots / "generate.png"), full_page=True)

    # Classify: upload a picture, see the top breeds with probabilities.
    page.get_by_role("tab", name="Classify").click()
    page.locator("input[type=file]").first.set_input_files(str(ROOT / "examples" / "Bengal.png"))
    page.locator("#labels").get_by_text("%").first.wait_for(timeout=60_000)
    labels = page.locator("#labels").inner_text()
    assert labels.count("%") == 5
    page.screenshot(path=str(shots / "classify.png"), full_page=True)
    # a clickable example replaces the picture and is classified at once
    before = labels
    page.locator("#examples img").nth(3).click()
    page.wait_for_function(
        "before => document.querySelector('#labels').innerText !== before", arg=before, timeout=60_000
    )

    page.get_by_role("tab", name="About").click()
    page.get_by_text("torch (cpu)").first.wait_for(timeout=10_000)
    page.screenshot(path=str(shots / "about.png"), full_page=True)
    assert outside == [], f"the page fetched from outside the server (offline use breaks): {outside}"
