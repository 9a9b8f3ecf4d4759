"""``il2sim serve``: a local web page on top of the library, like the CLI (the core never imports it).

The stack is Starlette (ASGI) under uvicorn, with plain server-rendered HTML,
a few lines of vanilla JavaScript and plotly.js for the charts:

* Starlette is small (one dependency, anyio), typed and async; the page
  needs a dozen routes, a JSON endpoint and file downloads, not a framework.
  FastAPI would add pydantic and OpenAPI for an API nobody else calls;
  Dash, Panel or Shiny would own the page's state and callbacks, hide the
  HTTP layer (where the input checks and the run directories must be
  explicit) and pull in far more code and front-end assets.
* The charts are built in Python with the ``plotly`` package and drawn by the
  plotly.js that package bundles, served from this server's own route
  (``/static/plotly.min.js``): zoom, pan and hover values with units, linked
  panels on one time axis, and no CDN (the page works offline).
* Every form value goes through the CLI's own checks
  (:func:`il2sim.cli.simulation_job`), so a bad value gets the CLI's
  message, shown next to its field.

The pages: one patient (``/``: a named regimen or an editable table of dose
blocks, and a side-by-side comparison of two runs), a virtual trial
(``/trial``: a background run with progress and cancel, at most
:data:`~il2sim.web._trial.MAX_PATIENTS` patients per arm, into a resumable
trial directory under the server's run directory), the validation scorecard
(``/validation``), the parameter table (``/params``), the named regimens
(``/regimens``) and the model's equations (``/model``, from ``docs/model.md``).

The server writes only into its run directory (``il2sim serve --runs DIR``):
trials in ``DIR/trials/`` (kept), one-patient runs in ``DIR/patients/``
(removed at shutdown).
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
from collections.abc import Iterator

from .._errors import UserError
from ._app import ServerSettings, create_app, is_loopback

__all__ = ["ServerSettings", "background_server", "create_app", "is_loopback", "serve"]


def serve(host: str = "127.0.0.1", port: int = 8050, *, run_dir: str = "il2sim-serve", validation: str | None = None,
          workers: int | None = None) -> None:
    """Bind ``host:port``, print the address and serve until Ctrl-C (``run_dir`` etc.: :class:`ServerSettings`).

    Raises
    ------
    UserError
        When the host does not resolve or the port cannot be bound (field ``--host`` or ``--port``).
    """
    import uvicorn

    try:
        family, _kind, _proto, _name, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, UnicodeError):
        raise UserError("--host", host, "a host name or IP address of this machine (default 127.0.0.1)") from None
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise UserError("--port", str(port), f"a free port on {host} ({exc.strerror or exc})") from None
    settings = ServerSettings(host=host, port=sock.getsockname()[1], run_dir=run_dir, validation=validation,
                              workers=workers)
    shown = f"[{host}]" if ":" in host else host
    print(f"il2sim serve: http://{shown}:{settings.port}/ (Ctrl-C to stop); run directory {run_dir}", flush=True)
    if settings.banner:
        sys.stderr.write("warning: " + settings.banner + "\n")
        sys.stderr.flush()
    config = uvicorn.Config(create_app(settings), log_level="warning", lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])


@contextlib.contextmanager
def background_server(settings: ServerSettings | None = None) -> Iterator[str]:
    """Serve the app on a free loopback port in a thread; yield its base URL (for tests and screenshots).

    ``settings.port`` is ignored (a free port is chosen); ``settings.host`` only sets the page's banner, the
    socket is always bound to 127.0.0.1.
    """
    import dataclasses
    import time

    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    settings = dataclasses.replace(settings or ServerSettings(), port=port)
    server = uvicorn.Server(uvicorn.Config(create_app(settings), log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="il2sim-serve", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30.0
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("il2sim serve: the background server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30.0)
        sock.close()
