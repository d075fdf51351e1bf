"""Starting the page safely: the rules of `nst web`, each checked before anything listens.

- 127.0.0.1 by default; any other address (0.0.0.0 reaches the whole network) needs --auth.
- Uploads are capped (Gradio refuses larger files before storing them; nst.web.uploads checks
  again and decodes with nst's image checks).
- Gradio serves files only from the shipped assets, models and the runs folder (allowed_paths);
  the page's own reads are confined to the same (nst.web.gallery.file_under).
- One picture at a time by default: the others wait in Gradio's queue, which shows their place;
  --jobs N runs N at once.
- Analytics and version checks off, Gradio's fonts and scripts served locally: the page makes no
  request beyond the machine.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import time
from pathlib import Path

from nst.errors import UserError

LOOPBACK = "127.0.0.1"


def check_host(host: str, auth: str | None) -> None:
    """Refuse to listen beyond this machine without a password."""
    if _is_loopback(host):
        return
    if not auth:
        raise UserError(
            f"--host {host} lets other machines open the page (and run pictures on this one): "
            "add --auth USER:PASSWORD, or keep the default 127.0.0.1"
        )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_auth(auth: str | None) -> tuple[str, str] | None:
    if auth is None:
        return None
    user, colon, password = auth.partition(":")
    if not colon or not user or len(password) < 8:
        raise UserError(
            "--auth takes USER:PASSWORD with a password of at least 8 characters, "
            "e.g. --auth artist:long-secret-words"
        )
    return user, password


def free_port(host: str) -> int:
    """A port nothing listens on now (the system picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host if host != "localhost" else LOOPBACK, 0))
        return probe.getsockname()[1]


def quiet_gradio() -> None:
    """No analytics, no version check: set before Gradio is imported."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    os.environ.setdefault("GRADIO_ALLOW_FLAGGING", "never")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")


def launch(
    runs: str | os.PathLike = "runs",
    host: str = LOOPBACK,
    port: int | None = None,
    auth: str | None = None,
    jobs: int = 1,
    max_upload_mb: float | None = None,
    block: bool = True,
):
    """Start the page; returns (page, site, url). `block` waits until Ctrl-C, then lets every
    picture in progress save its checkpoint before the server stops."""
    check_host(host, auth)
    credentials = parse_auth(auth)
    if jobs < 1:
        raise UserError(f"--jobs must be at least 1, got {jobs}")
    runs = Path(runs)
    try:
        runs.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"--runs {runs}: can't create it ({error.strerror})") from None
    quiet_gradio()
    from nst.web import page, uploads

    cap = uploads.MAX_UPLOAD_MB if max_upload_mb is None else max_upload_mb
    site = page.Site(runs.resolve(), cap, jobs)
    blocks = page.build(site)
    blocks.queue(default_concurrency_limit=8)
    port = port or free_port(host)
    try:
        _, url, _ = blocks.launch(
            server_name=host,
            server_port=port,
            auth=credentials,
            max_file_size=f"{cap:g}mb",
            allowed_paths=[str(path) for path in site.readable],
            prevent_thread_lock=True,
            quiet=True,
            show_error=False,
            footer_links=[],
            ssr_mode=False,
            mcp_server=False,
            pwa=False,
        )
    except OSError as error:
        raise UserError(
            f"--host {host} --port {port}: can't listen there ({error}): choose another port, "
            "or leave --port out for a free one"
        ) from None
    if block:
        print(f"nst web: {url}  (Ctrl-C to stop)", flush=True)
        try:
            while True:
                time.sleep(0.5)
        except KeyboardInterrupt:
            print("\nnst web: stopping; pictures in progress keep a checkpoint", flush=True)
        finally:
            site.stop_all()
            blocks.close()
    return blocks, site, url
