"""Text that people typed (dataset, class and ensemble names), made safe to put into the Markdown files the
app writes (the model card, the bundle's README, a notebook's cells): shown as the letters they are, never
as a link, a picture, raw HTML, a table cell break or a heading."""

from __future__ import annotations

import re

_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-!|<>~&$=:.@])")  # . and @: no autolinks (www.x.org, a@b.org)


def md_text(text: str) -> str:
    """`text` as literal Markdown text: one line, every Markdown character backslash-escaped."""
    return _SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def md_json(data) -> str:
    """JSON for a fenced code block: no backtick that could end the fence early."""
    import json

    return json.dumps(data, indent=1, sort_keys=True).replace("`", "\\u0060")
