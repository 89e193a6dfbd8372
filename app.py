"""Cats DiT: a Gradio app (and Hugging Face Space) that draws cats of a breed and recognises breeds.

Run: ``python app.py [--model DIR_OR_REPO] [--classifier DIR_OR_REPO] [--backend auto|torch|onnx]``.
Layout only: the handlers are plain functions in ``cats_dit.serving``.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # offline: no analytics calls

import random  # noqa: E402
from pathlib import Path  # noqa: E402

import gradio as gr  # noqa: E402

from cats_dit.breeds import DISPLAY_NAMES, LABELS  # noqa: E402
from cats_dit.serving import Service, load_service  # noqa: E402
from cats_dit.serving.cli import build_parser  # noqa: E402
from cats_dit.serving.sources import ModelLoadError  # noqa: E402
from cats_dit.serving.validation import LIMITS, MAX_SEED, configure_pil  # noqa: E402

try:  # ZeroGPU Spaces: run the handlers on a borrowed GPU; a no-op everywhere else.
    import spaces

    gpu = spaces.GPU
except ImportError:

    def gpu(fn):
        return fn


HERE = Path(__file__).resolve().parent
EXAMPLES = HERE / "examples"
THEME = gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])
CSS = """
#gallery img, #preview img { image-rendering: pixelated; }
#seed-row { align-items: flex-end !important; }
#randomize { height: auto !important; flex-grow: 0 !important; margin-bottom: 10px; }
#banner { border-left: 4px solid var(--color-accent); padding-left: 0.75em; }
"""
BREED_CHOICES = [(name, label) for name, label in zip(DISPLAY_NAMES, LABELS)] + [("Random breed", "random")]


def build_demo(service: Service) -> gr.Blocks:
    @gpu
    def generate(breed, num_images, steps, guidance, sampler, seed, check, progress=gr.Progress()):
        try:
            for update in service.generate(breed, num_images, steps, guidance, sampler, seed, check, progress):
                yield update.gallery, update.status, update.info
        except (ValueError, ModelLoadError) as exc:
            raise gr.Error(str(exc), print_exception=False) from None

    @gpu
    def classify(image):
        try:
            return service.classify(image)
        except (ValueError, ModelLoadError) as exc:
            raise gr.Error(str(exc), print_exception=False) from None

    d = service.defaults
    with gr.Blocks(title="Cats DiT", analytics_enabled=False) as demo:
        gr.Markdown("# Cats DiT\nA tiny Diffusion Transformer that draws cat breeds, and a classifier that names them.")
        gr.Markdown(banner_text(service), elem_id="banner")
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
                        go = gr.Button("Generate", variant="primary")
                    with gr.Column(scale=2):
                        gallery = gr.Gallery(
                            label="Images (PNG: seed and settings in the file name and metadata)",
                            elem_id="gallery",
                            format="png",
                            columns=4,
                            height=420,
                            object_fit="contain",
                            buttons=["download", "fullscreen"],
                        )
                        status = gr.Markdown("Pick a breed and press **Generate**.", elem_id="status")
                        with gr.Accordion("Settings to reproduce these images (JSON)", open=False):
                            info = gr.JSON(label="settings")
                randomize.click(lambda: random.randint(0, MAX_SEED), outputs=seed, api_visibility="private")
                go.click(
                    generate,
                    [breed, num_images, steps, guidance, sampler, seed, check],
                    [gallery, status, info],
                    api_name="generate",
                    show_progress_on=[gallery],
                    preprocess=False,  # raw values: cats_dit.serving.validation names each bad setting
                )

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
                        api_name="classify_example",
                        api_visibility="private",
                    )

            with gr.Tab("About", id="about"):
                gr.Markdown(about_text(service))
    return demo


def banner_text(service: Service) -> str:
    lines = []
    for what in ("generator", "classifier"):
        if what in service.errors:
            lines.append(f"**The {what} is not available.** {service.errors[what]}")
    extra = service.about_extra
    if extra.get("generator_is_demo") == "True" or extra.get("classifier_is_demo") == "True":
        lines.append(
            "Running the **demo weights** committed with the code: tiny models trained on synthetic "
            "*cartoon cats*, not on photos. Point `--model` / `--classifier` at trained weights for real cats."
        )
    return "\n\n".join(lines) or "Weights: " + service.sources.get("generator", "")


def about_text(service: Service) -> str:
    from cats_dit.serving.service import read_model_card

    gen, cls = service.generator, service.classifier
    extra = service.about_extra
    rows = [
        "| | generator | classifier |",
        "|---|---|---|",
        f"| source | {service.sources.get('generator', '-')} | {service.sources.get('classifier', '-')} |",
        f"| local folder | `{extra.get('generator_path', '-')}` | `{extra.get('classifier_path', '-')}` |",
        f"| backend | {_backend(gen)} | {_backend(cls)} |",
        f"| demo weights (cartoon cats) | {_yes(extra.get('generator_is_demo'))} | {_yes(extra.get('classifier_is_demo'))} |",
    ]
    if gen is not None:
        rows.append(f"| image size | {gen.sample_size} px | {cls.config['image_size'] if cls else '-'} px |")
    parts = ["## Models", "\n".join(rows)]
    if extra.get("auto_backend_note"):
        parts.append(f"Backend `auto`: {extra['auto_backend_note']}.")
    if service.errors:
        parts.append("\n".join(f"- **{k} not loaded:** {v}" for k, v in service.errors.items()))
    metrics = (cls.config.get("metrics") if cls is not None else None) or {}
    if metrics:
        parts.append("## Classifier numbers (from its config)")
        parts.append(
            "| metric | value |\n|---|---|\n"
            + "\n".join(f"| {k} | {_fmt(v)} |" for k, v in metrics.items() if not isinstance(v, (dict, list)))
        )
    data, body = read_model_card(getattr(gen, "folder", None))
    if body:
        parts.append("## Generator model card\n\n" + body.strip())
    parts.append(
        "## Reproducing an image\nImage *k* of a batch with seed *S* uses seed *S + k*; the seed, breed, "
        "steps, guidance and sampler are in each PNG's name and text metadata. The same seed gives the "
        "same image with either backend and in the browser page."
    )
    return "\n\n".join(parts)


def _backend(component) -> str:
    if component is None:
        return "not loaded"
    return f"{component.backend} ({getattr(component, 'device', 'cpu')})"


def _yes(flag) -> str:
    return "yes" if flag == "True" else "no"


def _fmt(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def launch(demo: gr.Blocks, host=None, port=None, concurrency=2, max_queue=64, **kwargs):
    """Queue (a burst of users waits in line) and start; returns Gradio's (app, local_url, share_url)."""
    demo.queue(default_concurrency_limit=concurrency, max_size=max_queue)
    return demo.launch(
        server_name=host,
        server_port=port,
        theme=THEME,
        css=CSS,
        max_file_size="20mb",
        footer_links=["api"],
        show_error=True,
        **kwargs,
    )


def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    configure_pil()
    service = load_service(args.model, args.classifier, args.backend, args.onnx_dir, args.device)
    launch(build_demo(service), args.host, args.port, args.concurrency, args.max_queue)


if __name__ == "__main__":
    main()
