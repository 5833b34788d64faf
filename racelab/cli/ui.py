"""`racelab ui`: the browser room for runs and stepping (racelab/ui)."""

import click

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@click.command("ui")
@click.option("--port", type=click.IntRange(0, 65535), default=8089, show_default=True,
              help="Port to listen on (0: any free one).")  # fmt: skip
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind; any but loopback asks every request for a printed token.",
)
@click.option(
    "--runs",
    "runs_dir",
    type=click.Path(file_okay=False),
    default="runs",
    show_default=True,
    help="Folder the runs' reports are written to and listed from.",
)
def ui_command(port, host, runs_dir):
    """Serve the racelab UI: start and watch runs, step through races, open past reports.

    Prints its URL; Ctrl-C or SIGTERM stops it and every run and server it started.
    """
    import secrets

    from werkzeug.serving import make_server

    from racelab.cli.errors import CommandError
    from racelab.ui import close_app, create_app

    token = None if host in LOOPBACK else secrets.token_urlsafe(16)
    app = create_app({"RUNS_DIR": runs_dir, "TOKEN": token})
    try:
        server = make_server(host, port, app, threaded=True)
    except OSError as e:
        raise CommandError(f"cannot listen on {host}:{port}: {e.strerror}") from None
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{server.server_port}/" + (f"?token={token}" if token else "")
    click.echo(f"racelab ui: {url}", err=True)
    try:
        server.serve_forever()  # werkzeug's returns when Ctrl-C (or SIGTERM, SIGHUP) ends it
    finally:
        server.server_close()
        close_app(app)
    raise KeyboardInterrupt  # every verb a signal stopped ends in one line and 130/143/129
