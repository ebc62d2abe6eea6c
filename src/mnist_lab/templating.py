"""The package's one jinja2 environment and the shell every HTML page shares.

Templates live in ``mnist_lab.templates`` (``templates/`` in the source tree) and are read with
importlib.resources. HTML is autoescaped and an undefined name is an error. A page is one
self-contained file: its stylesheet (and script) are inlined, and a Content-Security-Policy with
their hashes forbids every other resource, so it makes no request and works from ``file://``.
Modules add their own globals (``mnist_lab.quiz.html`` adds ``question_key``/``option_value``).
"""

from __future__ import annotations

import base64
import hashlib
from functools import cache
from importlib import resources

import jinja2
from markupsafe import Markup, escape

TEMPLATES_PACKAGE = "mnist_lab.templates"


class TemplatingError(ValueError):
    """A resource cannot be put on a page (for instance it would end its inline element)."""


def _load_template(name: str) -> str | None:
    resource = resources.files(TEMPLATES_PACKAGE).joinpath(name)
    return resource.read_text("utf-8") if resource.is_file() else None


def inline_code(text: str) -> Markup:
    """Escape ``text`` and turn each `backticked` span into <code>; an unpaired backtick stays."""
    parts = str(text).split("`")
    if len(parts) % 2 == 0:  # odd number of backticks: the last one is a literal character
        parts[-2:] = [parts[-2] + "`" + parts[-1]]
    html = [
        Markup("<code>{}</code>").format(part) if index % 2 else escape(part)
        for index, part in enumerate(parts)
    ]
    return Markup("").join(html)


def format_number(value: float) -> str:
    """784.0 -> "784", 0.25 -> "0.25": how a number is written for people."""
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def format_points(value: float) -> str:
    return f"{format_number(value)} point{'' if value == 1 else 's'}"


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(_load_template),
        # HTML is escaped; the release's Markdown files (*.md.j2) are plain text, not HTML.
        autoescape=jinja2.select_autoescape(disabled_extensions=("md.j2",), default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["inline_code"] = inline_code
    env.filters["number"] = format_number
    env.filters["points"] = format_points
    return env


@cache
def inline_asset(package: str, name: str, closing_tag: str) -> str:
    """The text of resource ``name`` of ``package``, checked to be safe inside its element."""
    text = resources.files(package).joinpath(name).read_text("utf-8")
    if closing_tag in text.lower():  # it would end the inline element early
        raise TemplatingError(f"{name} contains {closing_tag!r} and cannot be inlined")
    return text


def csp_hash(text: str) -> str:
    return (
        "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"
    )


def content_security_policy(*, script: str | None, style: str) -> str:
    """Only the inlined stylesheet (and script) may run: no request can leave the page."""
    script_source = csp_hash(script) if script is not None else "'none'"
    return (
        f"default-src 'none'; script-src {script_source}; style-src {csp_hash(style)}; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )


__all__ = [
    "TEMPLATES_PACKAGE",
    "TemplatingError",
    "content_security_policy",
    "csp_hash",
    "environment",
    "format_number",
    "format_points",
    "inline_asset",
    "inline_code",
]
