"""Build-time hooks of the documentation site (``mkdocs.yml`` names this file).

A line ``<!-- aeimpute-help COMMAND -->`` in a page becomes the ``--help`` text of that
command, taken from the parser itself, so the command-line page cannot drift from the code.
"""

from __future__ import annotations

import re

from aeimpute.cli import help_text

MARKER = re.compile(r"^<!-- aeimpute-help(?: (?P<command>[\w-]+(?: [\w-]+)?))? -->$", re.MULTILINE)


def on_page_markdown(markdown: str, **_: object) -> str:
    """Replace each help marker by the command's help text in a code block."""

    def block(match: re.Match) -> str:
        return "```text\n" + help_text(match.group("command"), width=90).rstrip() + "\n```"

    return MARKER.sub(block, markdown)
