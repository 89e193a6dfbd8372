"""The static page refuses what it cannot answer honestly, in a real Chromium on localhost.

- an image over the pixel limit (a canvas silently returns blank pixels above ~268 MP, which
  used to get a confident "Top guess") and a 40000x1 strip are refused before decoding;
- invalid values in a shared link (#guidance=NaN, #seed=abc, #breed=99, #sampler=ddim,
  #precision=fp64) show an error naming the field and generate nothing; an unknown precision
  falls back to the default so the generator still loads.
"""

from __future__ import annotations

import time

import pytest
from helpers import BROWSER_MARKS, REPO
from PIL import Image

pytestmark = BROWSER_MARKS


@pytest.fixture(scope="module")
def models():
    models = REPO / "static_site" / "models"  # the committed export the page serves by default
    if not (models / "models.json").is_file():
        pytest.skip("static_site/models/models.json is missing")
    return models


def link_errors(page) -> list[str]:
    return page.locator('#errors .error[data-section="Link"]').all_inner_texts()


def wait_generator(page) -> None:
    page.wait_for_function("() => window.catsDit && window.catsDit.state.ready.generator")


def test_over_limit_and_thin_images_are_refused_before_decoding(page, isolated_url, tmp_path):
    huge = tmp_path / "huge.png"
    Image.new("1", (20000, 20000)).save(huge)  # 400 MP, a few hundred kB on disk
    thin = tmp_path / "thin.png"
    Image.new("RGB", (40000, 1), "orange").save(thin)
    page.goto(isolated_url)
    page.wait_for_function("() => window.catsDit && window.catsDit.state.ready.classifier")
    for path, words in [(huge, "400.0 megapixels; the limit is 40 megapixels"), (thin, "aspect ratio 40000:1")]:
        start = time.perf_counter()
        page.set_input_files("#file", str(path))
        page.wait_for_function("() => document.querySelector('#classify-status').dataset.state === 'error'")
        elapsed = time.perf_counter() - start
        status = page.locator("#classify-status").inner_text()
        assert words in status and path.name in status, status
        assert elapsed < 10, f"{path.name} took {elapsed:.1f} s to refuse (it was decoded?)"
        assert page.evaluate("window.catsDit.lastClassification") is None
        assert page.locator("#classify-results li").count() == 0
        page.evaluate("document.querySelector('#classify-status').dataset.state = 'idle'")
    # A normal image still works afterwards.
    ok = tmp_path / "ok.png"
    Image.new("RGB", (60, 40), "orange").save(ok)
    page.set_input_files("#file", str(ok))
    page.wait_for_function("() => document.querySelector('#classify-status').dataset.state === 'done'")


@pytest.mark.parametrize(
    "link, words",
    [
        ("#guidance=NaN&seed=1", 'guidance must be a number from 0 to 30, got "NaN"'),
        ("#seed=abc", 'seed must be a whole number from 0 to 4294967295, got "abc"'),
        ("#breed=99&seed=1", 'breed "99" is not one of the 13 breeds'),
        ("#sampler=ddim&seed=1", 'sampler must be one of euler, heun, got "ddim"'),
        ("#steps=&seed=1", 'steps must be a whole number from 1 to 500, got ""'),
    ],
)
def test_bad_link_values_name_the_field_and_generate_nothing(page, isolated_url, link, words):
    page.goto(isolated_url + link)
    wait_generator(page)
    page.wait_for_timeout(1500)  # time the old code took to start the auto-generation
    errors = link_errors(page)
    assert any(words in e for e in errors), errors
    assert page.evaluate("window.catsDit.events.filter(e => e.type === 'preview').length") == 0
    assert page.evaluate("window.catsDit.lastImage") is None
    assert page.get_attribute("#gen-status", "data-state") == "error"
    assert "Fix them and press Generate" in page.locator("#gen-status").inner_text()
    assert page.evaluate("location.hash") == link  # the link is not rewritten to a guess
    # The form holds valid values: pressing Generate now works.
    page.fill("#steps", "2")
    page.click("#generate")
    page.wait_for_function("() => document.querySelector('#gen-status').dataset.state === 'done'", timeout=120_000)


def test_unknown_precision_falls_back_to_the_default_and_stays_usable(page, isolated_url):
    page.goto(isolated_url + "#precision=fp64&seed=3&steps=2")
    wait_generator(page)
    default = page.evaluate("window.catsDit.state.config.generator.default_precision")
    assert page.evaluate("window.catsDit.state.ready.generator.precision") == default
    errors = link_errors(page)
    assert any('precision "fp64" is not one of' in e and f"using {default}" in e for e in errors), errors
    assert page.locator('#errors .error[data-section="Generator"]').count() == 0
    assert page.input_value("#gen-precision") == default
    page.wait_for_timeout(1000)
    assert page.evaluate("window.catsDit.lastImage") is None  # a bad link generates nothing by itself
    page.click("#generate")
    page.wait_for_function("() => document.querySelector('#gen-status').dataset.state === 'done'", timeout=120_000)
