"""The app as an unfriendly user meets it: ``python app.py`` in a child process on localhost, driven
through gradio_client, its cost read from /proc.

- thin and wide images keep the server's peak RSS within a bound (a 40000x1 PNG used to take it to
  several GB: the whole image was resized before the centre crop);
- cancelling before the first streamed preview stops the sampler: CPU idle within 1 s, and
  submit-and-cancel churn does not pile up threads;
- wrong-typed values get their real reason; a data: URL over the upload limit is refused;
- SIGTERM removes the server's temporary folders.
"""

from __future__ import annotations

import base64
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gradio_client import Client, handle_file  # noqa: E402

from cats_dit.serving.validation import MAX_UPLOAD_BYTES, load_image, validate_generate  # noqa: E402
from cats_dit.testing import app_server, make_tiny_models, process_stats  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="needs Linux /proc")]
RSS_GROWTH_BOUND_MB = 100


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    """The committed demo weights on the torch backend, as a Space would run them."""
    tmp = tmp_path_factory.mktemp("robust_server")
    with app_server(ROOT / "app.py", "--backend", "torch", "--concurrency", "2", tmpdir=tmp) as (url, proc):
        yield url, proc.pid, tmp


def classify_message(client, path) -> str:
    try:
        return f"answered {client.predict(handle_file(str(path)), api_name='/classify')}"
    except Exception as exc:
        return str(exc)


def test_thin_and_wide_images_keep_peak_rss_bounded(demo_server):
    url, pid, tmp = demo_server
    client = Client(url, verbose=False)
    normal = tmp / "normal.png"
    Image.new("RGB", (640, 480), "orange").save(normal)
    client.predict(handle_file(str(normal)), api_name="/classify")  # warm: model and buffers in place
    before = process_stats(pid)
    messages = {}
    # 10 million x 1 is under the 40 MP limit: refused from its header, it is never decoded (30 MB RGB,
    # 120 MB as floats).
    for size in [(40000, 1), (1, 40000), (200000, 1), (10_000_000, 1)]:
        path = tmp / f"thin_{size[0]}x{size[1]}.png"
        Image.new("RGB", size, "orange").save(path)
        messages[size] = classify_message(client, path)
    wide = tmp / "wide.png"  # the widest accepted shape is classified, at the cost of its crop only
    Image.new("RGB", (4000, 200), "orange").save(wide)
    result = client.predict(handle_file(str(wide)), api_name="/classify")
    after = process_stats(pid)
    growth = after["peak_rss_mb"] - before["peak_rss_mb"]
    print(f"peak RSS {before['peak_rss_mb']:.0f} -> {after['peak_rss_mb']:.0f} MB")
    assert growth < RSS_GROWTH_BOUND_MB, f"peak RSS grew by {growth:.0f} MB on thin/wide images"
    assert len(result["confidences"]) == 5
    for (w, h), message in messages.items():
        assert f"Image is {w}x{h} pixels (aspect ratio" in message, message


def wait_for_cpu(pid: int, seconds: float, timeout: float = 60) -> None:
    """Until the process has burnt ``seconds`` more CPU (the job is really sampling)."""
    start = process_stats(pid)["cpu_s"]
    deadline = time.time() + timeout
    while process_stats(pid)["cpu_s"] - start < seconds:
        assert time.time() < deadline, "the job never started computing"
        time.sleep(0.05)


def cpu_between(pid: int, t0: float, t1: float) -> float:
    time.sleep(max(0.0, t0 - time.time()))
    a = process_stats(pid)["cpu_s"]
    time.sleep(max(0.0, t1 - time.time()))
    return process_stats(pid)["cpu_s"] - a


def test_cancel_before_the_first_preview_idles_the_cpu_within_1s(demo_server):
    url, pid, _ = demo_server
    client = Client(url, verbose=False)
    client.predict("Bengal", 1, 1, 3.0, "euler", 0, False, api_name="/generate")  # warm
    # 100 steps x 8 images: the first preview comes after 20 steps (several seconds of a core).
    job = client.submit("Bengal", 8, 100, 3.0, "euler", 1, False, api_name="/generate")
    wait_for_cpu(pid, 0.3)
    assert job.outputs() == [], "a preview arrived before the cancel: the test would not test the early case"
    job.cancel()
    cancelled_at = time.time()
    busy = cpu_between(pid, cancelled_at + 1.0, cancelled_at + 2.0)
    print(f"CPU from 1 s to 2 s after cancelling: {busy:.2f} s")
    assert busy < 0.2, f"the server still used {busy:.2f} s of CPU per second after the cancel"
    # After the churn the server still answers a normal request promptly.
    start = time.time()
    client.predict("Bengal", 1, 2, 3.0, "euler", 0, False, api_name="/generate")
    assert time.time() - start < 30


def test_submit_and_cancel_churn_does_not_pile_up_threads(demo_server):
    url, pid, _ = demo_server
    client = Client(url, verbose=False)
    client.predict("Bengal", 1, 1, 3.0, "euler", 0, False, api_name="/generate")
    before = process_stats(pid)
    for k in range(6):
        job = client.submit("Bengal", 8, 100, 3.0, "euler", k, False, api_name="/generate")
        wait_for_cpu(pid, 0.2)
        job.cancel()
    time.sleep(1.5)
    after = process_stats(pid)
    print(f"threads {before['threads']} -> {after['threads']}, CPU in the last second after churn:")
    assert after["threads"] <= before["threads"] + 2, f"threads {before['threads']} -> {after['threads']}"
    assert cpu_between(pid, time.time(), time.time() + 1.0) < 0.2


def test_wrong_types_get_the_real_reason_through_the_api(demo_server):
    client = Client(demo_server[0], verbose=False)
    cases = [
        ((5, 1, 2, 3.0, "euler", 1, False), "breed must be a breed name (text), got int 5"),
        (("Bengal", 1, True, 3.0, "euler", 1, False), "steps must be a number, got the boolean True"),
        (("<b>Tabby</b>", 1, 2, 3.0, "euler", 1, False), "Unknown breed '&lt;b&gt;Tabby&lt;/b&gt;'"),
    ]
    for args, words in cases:
        with pytest.raises(Exception) as info:
            client.predict(*args, api_name="/generate")
        assert words in str(info.value) and "missing" not in str(info.value), str(info.value)


def test_validation_messages_for_wrong_types():
    good = dict(breed="Bengal", num_images=1, steps=2, guidance=3.0, sampler="euler", seed=1)
    for change, words in [
        ({"breed": 5}, "breed must be a breed name (text), got int 5"),
        ({"steps": True}, "steps must be a number, got the boolean True"),
        ({"seed": False}, "seed must be a number, got the boolean False"),
        ({"breed": None}, "breed is missing"),
    ]:
        with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
            validate_generate(**{**good, **change})


def test_a_data_url_over_the_upload_limit_is_refused_before_decoding():
    small = Image.new("RGB", (4, 4), "orange")
    import io

    buf = io.BytesIO()
    small.save(buf, format="PNG")
    ok = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    assert load_image({"url": ok}).size == (4, 4)
    huge = "data:image/png;base64," + "A" * (MAX_UPLOAD_BYTES * 2)  # 40 MB of text, 30 MB decoded
    start = time.perf_counter()
    with pytest.raises(ValueError, match="The pasted image is too large: about 30 MB; the upload limit is 20 MB"):
        load_image({"url": huge})
    assert time.perf_counter() - start < 1.0


def test_sigterm_removes_the_servers_temporary_folders(tmp_path):
    pipeline, classifier = make_tiny_models(tmp_path / "models")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    with app_server(
        ROOT / "app.py", "--model", str(pipeline), "--classifier", str(classifier), "--backend", "torch", tmpdir=tmp
    ) as (
        url,
        proc,
    ):
        gallery, _, _ = Client(url, verbose=False).predict("Bengal", 1, 2, 3.0, "euler", 1, False, api_name="/generate")
        made = sorted(p.name.split("_")[:3][-1] for p in tmp.glob("cats_dit_*"))
        assert made == ["gradio", "outputs"], sorted(p.name for p in tmp.iterdir())
        assert any(tmp.glob("cats_dit_outputs_*/*/*.png")) and any(tmp.glob("cats_dit_gradio_*/**/*.png"))
        proc.terminate()  # SIGTERM, as a container stop or a Space restart sends
        assert proc.wait(timeout=120) == 143
    left = sorted(p.name for p in tmp.iterdir() if p.name != "server.log")
    assert left == [], f"left behind after SIGTERM: {left}"


@pytest.mark.browser
def test_html_typed_as_a_breed_shows_as_text_in_the_error_toast(demo_server):
    from static_site import testing as st

    if not Path(st.CHROMIUM).exists():
        pytest.skip(f"{st.CHROMIUM} is missing")
    typed = "<b>Tabby</b><img src=x>"
    with st.chromium() as browser:
        page = browser.new_page()
        page.goto(demo_server[0])
        box = page.get_by_role("listbox", name="Breed")
        box.click()
        box.fill(typed)
        box.press("Enter")
        page.get_by_role("button", name="Generate", exact=True).click()
        toast = page.locator(".toast-body").filter(has_text="Unknown breed")
        toast.wait_for(timeout=30_000)
        assert f"Unknown breed '{typed}'" in toast.inner_text()  # the user's text, literally
        assert toast.locator("b, img").count() == 0, toast.inner_html()
