"""``metareview serve``: the review team's workspace in the browser, on a project file or a PostgreSQL database."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        project: str = typer.Argument(..., envvar="METAREVIEW_PROJECT",
                                      help="The project file, or a postgresql:// URL."),
        host: str = typer.Option("127.0.0.1", "--host",
                                 help="Address to listen on; the default is this machine only. Use 0.0.0.0 to "
                                      "let others on the network connect (put TLS in front of it)."),
        port: int = typer.Option(8000, "--port", min=0, max=65535, help="Port to listen on (0: any free port)."),
        plan: Path = typer.Option(None, "--plan", help="The analysis plan the analysis page runs (default: the "
                                                       "review.toml beside the project file)."),
        files: Path = typer.Option(None, "--files", envvar="METAREVIEW_FILES",
                                   help="The folder where uploaded full texts and the adjudicated table are kept "
                                        "(default: PROJECT.files beside a project file; a project on a database "
                                        "server needs one to accept uploads)."),
    ) -> None:
        """Serve the project to the review team in the browser (sign in with accounts from 'review user add')."""
        import socket

        import uvicorn

        from ..base.exceptions import SettingsError
        from ..review import accounts
        from ..review.backends import display
        from ..review.project import Project
        from ..web import create_app

        if plan is not None and not plan.is_file():
            raise SettingsError(f"--plan {plan}: no such file")
        if files is not None and not files.is_dir():
            raise SettingsError(f"--files {files}: no such folder; create it first")
        app = create_app(project, plan=plan, files=files)
        with Project.open(project) as proj:
            if not accounts.list_users(proj, include_removed=False):
                raise SettingsError(f"{display(project)} has no accounts yet, so nobody could sign in; add one first "
                                    f"with 'metareview review user add NAME --role owner -p {display(project)}'")
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            sock.close()
            raise SettingsError(f"cannot listen on {host}:{port}: {exc.strerror}; choose another --port") from None
        bound = sock.getsockname()[1]
        shown = f"[{host}]" if ":" in host else host
        typer.echo(f"metareview workspace for {display(project)} at http://{shown}:{bound}/ (Ctrl+C stops it)")
        if host not in ("127.0.0.1", "localhost", "::1"):
            typer.echo(f"listening on {host}: anyone who can reach this machine can open the sign-in page; "
                       f"use TLS (a reverse proxy) beyond a trusted network", err=True)
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
        server = uvicorn.Server(config)
        server.run(sockets=[sock])
