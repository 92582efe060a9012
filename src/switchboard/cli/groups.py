"""A command group with a default subcommand: `switchboard models gpt` runs `models list gpt`,
while `switchboard models show ID` still reaches `show`."""

from __future__ import annotations

from typing import Any

from typer.core import TyperGroup


class DefaultCommandGroup(TyperGroup):
    default_command = ""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        first = args[0] if args else None
        if first is None or (first not in self.commands and first not in ctx.help_option_names):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


class ModelsGroup(DefaultCommandGroup):
    default_command = "list"


class CreditsGroup(DefaultCommandGroup):
    default_command = "show"
