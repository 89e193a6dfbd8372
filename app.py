"""Cats DiT: a Gradio app (and Hugging Face Space) that draws cats of a breed and recognises breeds.

Run: ``python app.py [--model DIR_OR_REPO] [--classifier DIR_OR_REPO] [--backend auto|torch|onnx]``.
Layout only: the handlers are plain functions in ``cats_dit.serving``.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # offline: no analytics calls

from cats_dit.serving.tempdirs import private_gradio_temp_dir, remove_on_exit  # noqa: E402

# A server's own Gradio cache, so that exiting (SIGTERM included) can remove it; set before gradio loads.
GRADIO_TMP = private_gradio_temp_dir() if __name__ == "__main__" else None

import html  # noqa: E402
import random  # noqa: E402
from pathlib import Path  # noqa: E402

import gradio as gr  # noqa: E402

from cats_dit.breeds import DISPLAY_NAMES, LABELS  # noqa: E402
from cats_dit.serving import Service, load_service  # noqa: E402
from cats_dit.serving.about import about_markdown, banner_markdown  # noqa: E402
from cats_dit.serving.cli import build_parser  # noqa: E402
from cats_dit.serving.loading import threads_per_job  # noqa: E402
from cats_dit.serving.sources import ModelLoadError  # noqa: E402
from cats_dit.serving.validation import LIMITS, MAX_SEED, MAX_UPLOAD_BYTES, configure_pil  # noqa: E402

try:  # ZeroGPU Spaces: run the handlers on a borrowed GPU; a no-op everywhere else.
    import spaces

    gpu = spaces.GPU
    ZERO_GPU = True
except ImportError:
    ZERO_GPU = False

    def gpu(fn):
        return fn


HERE = Path(__file__).resolve().parent
EXAMPLES = HERE / "examples"
WEIGHTS = HERE / "weights"  # the committed demo weights: the default when no --model / env var is given
THEME = gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])
CSS = """
#gallery img, #preview img { image-rendering: pixelated; }
#seed-row { align-items: flex-end !important; }
#randomize { height: auto !important; flex-grow: 0 !important; margin-bottom: 10px; }
#banner { border-left: 4px solid var(--color-accent); padding-left: 0.75em; }
"""
BREED_CHOICES = [(name, label) for name, label in zip(DISPLAY_NAMES, LABELS)] + [("Random breed", "random")]


def user_error(exc: Exception) -> gr.Error:
    # The toast renders HTML: escape it so text the user typed (a breed name) is shown as text.
    return gr.Error(html.escape(str(exc), quote=False), print_exception=False)


def build_demo(service: Service) -> gr.Blocks:
    # Async: Stop / cancel cancels the task awaiting the job, which cancels the sampler within one
    # step, also before the first preview (no thread is left waiting for it).
    async def generate(breed, num_images, steps, guidance, sampler, seed, check, progress=gr.Progress()):
        try:
            async for update in service.generate_async(
                breed, num_images, steps, guidance, sampler, seed, check, progress
            ):
                yield update.gallery, update.status, update.info
        except (ValueError, ModelLoadError) as exc:
            raise user_error(exc) from None

    if ZERO_GPU:  # spaces.GPU wraps plain generators; closing one cancels its job too

        @gpu
        def generate(breed, num_images, steps, guidance, sampler, seed, check, progress=gr.Progress()):  # noqa: F811
            try:
                for update in service.generate(breed, num_images, steps, guidance, sampler, seed, check, progress):
                    yield update.gallery, update.status, update.info
            except (ValueError, ModelLoadError) as exc:
                raise user_error(exc) from None

    @gpu
    def classify(image):
        try:
            return service.classify(image)
        except (ValueError, ModelLoadError) as exc:
            raise user_error(exc) from None

    d = service.defaults
    # delete_cache: served PNGs and uploads older than an hour are removed every hour.
    with gr.Blocks(title="Cats DiT", analytics_enabled=False, delete_cache=(3600, 3600)) as demo:
        gr.Markdown("# Cats DiT\nA tiny Diffusion Transformer that draws cat breeds, and a classifier that names them.")
        gr.Markdown(banner_markdown(service), elem_id="banner")
        with gr.Tabs():
            with gr.Tab("Generate", id="generate"):
                with gr.Row():
                    with gr.Column(scale=1, min_width=280):
                        breed = gr.Dropdown(BREED_CHOICES, value=d["breed"], label="Breed", allow_custom_value=True)
                        num_images = gr.Slider(*LIMITS["num_images"], value=d["num_images"], step=1, label="Images")
                        steps = gr.Slider(*LIMITS["steps"], value=d["steps"], step=1, label="Steps")
                        guidance = gr.Slider(*LIMITS["guidance"], value=d["guidance"], step=0.5, label="Guidance")
                        sampler = gr.Radio([("Euler", "euler"), ("Heun", "heun")], value=d["sampler"], label="Sampler")
                        with gr.Row(elem_id="seed-row"):
                            seed = gr.Number(d["seed"], label="Seed", precision=0, minimum=0, maximum=MAX_SEED, scale=3)
                            randomize = gr.Button("Randomize", scale=0, min_width=110, elem_id="randomize")
                        check = gr.Checkbox(True, label="Check each image with the classifier")
                        with gr.Row():
                            go = gr.Button("Generate", variant="primary", scale=3)
                            stop = gr.Button("Stop", variant="stop", scale=1, min_width=80)
                    with gr.Column(scale=2):
                        gallery = gr.Gallery(
                            label="Images (PNG: seed and settings in the file name and metadata)",
                            elem_id="gallery",
                            format="png",
                            columns=4,
                            height=400,
                            object_fit="contain",
                            buttons=["download", "fullscreen"],
                        )
                        status = gr.Markdown("Pick a breed and press **Generate**.", elem_id="status")
                        with gr.Accordion("Settings to reproduce these images (JSON)", open=False):
                            info = gr.JSON(label="settings")
                randomize.click(lambda: random.randint(0, MAX_SEED), outputs=seed, api_visibility="private")
                job = go.click(
                    generate,
                    [breed, num_images, steps, guidance, sampler, seed, check],
                    [gallery, status, info],
                    api_name="generate",
                    show_progress_on=[gallery],
                    preprocess=False,  # raw values: cats_dit.serving.validation names each bad setting
                )
                # Cancelling the job cancels its sampler at the next step (GenerateJob.cancel).
                stop.click(None, cancels=[job], api_visibility="private")

            with gr.Tab("Classify", id="classify"):
                with gr.Row():
                    with gr.Column():
                        image = gr.Image(
                            type="filepath",
                            image_mode=None,
                            label="A cat picture",
                            sources=["upload", "clipboard", "webcam"],
                            height=320,
                        )
                        run = gr.Button("Classify", variant="primary")
                    with gr.Column():
                        label = gr.Label(num_top_classes=5, label="Top breeds", elem_id="labels")
                        gr.Markdown(
                            "*Other* means **not one of the 12 breeds** (a dog, or anything else). "
                            "The demo classifier was trained on cartoon cats, so real photos may confuse it."
                        )
                # preprocess=False: the handler decodes the upload itself, so a non-image, corrupt or
                # decompression-bomb file gets a clear message instead of a PIL error inside Gradio.
                run.click(classify, [image], [label], api_name="classify", preprocess=False)
                image.upload(
                    classify, [image], [label], api_name="classify_upload", api_visibility="private", preprocess=False
                )
                if EXAMPLES.is_dir() and any(EXAMPLES.glob("*.png")):
                    gr.Examples(
                        sorted(str(p) for p in EXAMPLES.glob("*.png")),
                        inputs=[image],
                        outputs=[label],
                        fn=classify,
                        run_on_click=True,
                        label="Examples (click one)",
                        elem_id="examples",
                        api_name="classify_example",
                        api_visibility="private",
                    )

            with gr.Tab("About", id="about"):
                gr.Markdown(about_markdown(service))
    return demo


def launch(demo: gr.Blocks, host=None, port=None, concurrency=2, max_queue=64, **kwargs):
    """Queue (a burst of users waits in line) and start; returns Gradio's (app, local_url, share_url)."""
    demo.queue(default_concurrency_limit=concurrency, max_size=max_queue)
    return demo.launch(
        server_name=host,
        server_port=port,
        theme=THEME,
        css=CSS,
        max_file_size=MAX_UPLOAD_BYTES,
        footer_links=["api"],
        show_error=True,
        **kwargs,
    )


def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    configure_pil()
    threads = threads_per_job(args.concurrency)
    try:  # the torch backend is optional: an onnxruntime-only Space has no torch
        import torch

        torch.set_num_threads(threads)  # concurrent jobs share the cores instead of oversubscribing them
    except ImportError:
        pass
    service = load_service(
        args.model, args.classifier, args.backend, args.onnx_dir, args.device, threads=threads, default_weights=WEIGHTS
    )
    service.limit_jobs(args.concurrency)
    remove_on_exit(service.outputs.root, GRADIO_TMP)
    launch(build_demo(service), args.host, args.port, args.concurrency, args.max_queue)


if __name__ == "__main__":
    main()
