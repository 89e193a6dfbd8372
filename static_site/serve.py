"""Development server for the static page, with the headers that enable WASM threads.

    python -m static_site.serve [--port 8000] [--no-isolation] [--models DIR]

Sends ``Cross-Origin-Opener-Policy: same-origin`` and ``Cross-Origin-Embedder-Policy:
require-corp`` so the page is cross-origin isolated (SharedArrayBuffer -> onnxruntime-web
threads). ``--no-isolation`` leaves them out, like GitHub Pages does. ``--models DIR``
serves an exported models folder at /models/ instead of static_site/models/.
Everything is sent with ``Cache-Control: no-store``: the page's own Cache API is the only cache.
"""

from __future__ import annotations

import argparse
import functools
import sys
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

SITE = Path(__file__).resolve().parent


class Handler(SimpleHTTPRequestHandler):
    extensions_map = {
        **SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript",
        ".mjs": "text/javascript",
        ".wasm": "application/wasm",
        ".onnx": "application/octet-stream",
        ".json": "application/json",
    }

    def __init__(self, *args, isolation: bool, models: Path | None, quiet: bool, **kwargs):
        self.isolation = isolation
        self.models = models
        self.quiet = quiet
        super().__init__(*args, **kwargs)

    def translate_path(self, path: str) -> str:
        clean = path.split("?", 1)[0].split("#", 1)[0]
        if self.models is not None and (clean == "/models" or clean.startswith("/models/")):
            rel = clean[len("/models") :].lstrip("/")
            target = (self.models / rel).resolve()
            if target == self.models or self.models in target.parents:
                return str(target)
            return str(self.models / "__outside__")
        return super().translate_path(path)

    def end_headers(self) -> None:
        if self.isolation:
            self.send_header("Cross-Origin-Opener-Policy", "same-origin")
            self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
            self.send_header("Cross-Origin-Resource-Policy", "same-origin")
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args) -> None:
        if not self.quiet:
            super().log_message(format, *args)


def make_server(
    port: int = 8000, host: str = "127.0.0.1", isolation: bool = True, models: Path | None = None, quiet: bool = False
) -> ThreadingHTTPServer:
    if models is not None:
        models = Path(models).resolve()
        if not (models / "models.json").is_file():
            raise SystemExit(f"error: {models} has no models.json")
    handler = functools.partial(Handler, directory=str(SITE), isolation=isolation, models=models, quiet=quiet)
    return ThreadingHTTPServer((host, port), handler)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8000, help="port (0 picks a free one)")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    parser.add_argument("--no-isolation", action="store_true", help="leave out COOP/COEP (one WASM thread)")
    parser.add_argument("--models", type=Path, default=None, help="models folder to serve at /models/")
    parser.add_argument("--quiet", action="store_true", help="no request log")
    args = parser.parse_args(argv)
    if not (SITE / "vendor" / "ort.wasm.min.mjs").is_file():
        print("warning: static_site/vendor/ is empty; run `python -m static_site.build` first", file=sys.stderr)
    server = make_server(args.port, args.host, not args.no_isolation, args.models, args.quiet)
    host, port = server.server_address[:2]
    mode = "not isolated (1 thread)" if args.no_isolation else "cross-origin isolated (threads)"
    print(f"serving {SITE} on http://{host}:{port}/ [{mode}]", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
