"""Read the key figures (``data-figure`` / ``data-value``) and images out of a report page."""

from __future__ import annotations

from html.parser import HTMLParser


class FigureParser(HTMLParser):
    """Collect ``(name, value)`` of every element with ``data-figure``, and every ``<img>``."""

    def __init__(self) -> None:
        super().__init__()
        self.figures: list[tuple[str, str | None]] = []
        self.images: list[dict[str, str | None]] = []
        self.links: list[str] = []
        self.scripts = 0
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if "data-figure" in a:
            self.figures.append((str(a["data-figure"]), a.get("data-value")))
        if tag == "img":
            self.images.append(a)
        if tag in {"link", "a"} and a.get("href"):
            self.links.append(str(a["href"]))
        if tag == "script":
            self.scripts += 1

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> FigureParser:
    """Parse a page."""
    p = FigureParser()
    p.feed(html)
    return p


def figure_values(html: str, name: str) -> list[float]:
    """The raw values of every ``data-figure=name`` on the page, as floats."""
    return [float(v) for n, v in parse(html).figures if n == name and v not in (None, "")]
