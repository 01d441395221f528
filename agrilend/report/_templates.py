"""The one Jinja environment of the report templates (autoescaped, strict)."""

from __future__ import annotations

import functools

import jinja2


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The templates of :mod:`agrilend.report`: HTML escaped, an unknown name is an error."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("agrilend.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"], default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


__all__ = ["environment"]
