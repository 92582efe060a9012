"""Options shared by the client commands.

They sit on each command rather than on the root callback, which `serve` and friends share:
`switchboard models --base-url URL` reads naturally and needs no position rules.
"""

from __future__ import annotations

from typing import Annotated

import typer

_PANEL = "Connection"

BaseUrl = Annotated[
    str | None,
    typer.Option("--base-url", show_default=False, rich_help_panel=_PANEL,
                 help="API base URL. Default: $SWITCHBOARD_BASE_URL, else "
                      "http://127.0.0.1:8080/api/v1 (https://openrouter.ai/api/v1 when only "
                      "OPENROUTER_API_KEY is set)."),
]
ApiKey = Annotated[
    str | None,
    typer.Option("--api-key", show_default=False, rich_help_panel=_PANEL,
                 help="API key. Default: $SWITCHBOARD_API_KEY, else $OPENROUTER_API_KEY."),
]
AdminKey = Annotated[
    str | None,
    typer.Option("--api-key", show_default=False, rich_help_panel=_PANEL,
                 help="A provisioning or root key. Default: $SWITCHBOARD_ADMIN_KEY, else "
                      "$SWITCHBOARD_API_KEY, else $OPENROUTER_API_KEY."),
]
JsonOut = Annotated[
    bool, typer.Option("--json", help="Print the API's JSON instead of a table (for scripts).")
]
