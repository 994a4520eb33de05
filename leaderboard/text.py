"""Text helpers of the site: number cells, sort keys, safe slugs and links, escaped Markdown (numbers
and settings as values: `aca_bench.benchmark.values`)."""

import hashlib
import html
import math
import re
from typing import Any
from urllib.parse import urlparse

from markupsafe import Markup

from aca_bench.benchmark.values import finite

DASH = "\u2013"


def num(x: Any, spec: str) -> str:
    """A number cell: formatted with `spec`, or a dash when missing."""
    v = finite(x)
    return DASH if v is None else format(v, spec)


def sort_value(x: Any) -> str:
    """A cell's data-sort-value: '' when missing, 'Infinity' for inf (what JavaScript's Number reads)."""
    v = finite(x)
    if v is None:
        return ""
    return repr(v) if math.isfinite(v) else ("Infinity" if v > 0 else "-Infinity")


def slug(name: str) -> str:
    """A file-name-safe, unique form of a task or algorithm name (a hash suffix when it had to change)."""
    safe = re.sub(r"[^a-z0-9_-]+", "-", str(name).lower()).strip("-") or "x"
    if safe == name:
        return safe
    return f"{safe}-{hashlib.sha256(str(name).encode()).hexdigest()[:8]}"


def safe_url(url: Any) -> str | None:
    """The URL when it is plain http(s), else None (shown as text: no javascript: links)."""
    if not isinstance(url, str):
        return None
    parsed = urlparse(url)
    return url if parsed.scheme in ("http", "https") and parsed.netloc else None


_LINK = re.compile(r"\[([^\]\n]+)\]\(([^)\s]+)\)")
_CODE = re.compile(r"`([^`\n]+)`")
_STRONG = re.compile(r"\*\*([^*\n]+)\*\*")
_EM = re.compile(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])")


def _inline(text: str) -> str:
    """Inline Markdown of already-escaped text: `code`, **strong**, *em*, [text](http link)."""
    codes: list[str] = []

    def keep(m: re.Match) -> str:
        codes.append(f"<code>{m.group(1)}</code>")
        return f"\x00{len(codes) - 1}\x00"

    text = _CODE.sub(keep, text)

    def link(m: re.Match) -> str:
        url = safe_url(html.unescape(m.group(2)))
        if url is None:
            return m.group(0)
        return f'<a href="{html.escape(url)}" rel="noopener noreferrer">{m.group(1)}</a>'

    text = _LINK.sub(link, text)
    text = _STRONG.sub(r"<strong>\1</strong>", text)
    text = _EM.sub(r"<em>\1</em>", text)
    return re.sub("\x00(\\d+)\x00", lambda m: codes[int(m.group(1))], text)


def markdown(text: Any) -> Markup:
    """A small, safe Markdown: every character is HTML-escaped first, then paragraphs (blank lines),
    '- ' bullet lists, `code`, **strong**, *em* and [text](http(s) link) become markup. Raw HTML in
    the source stays text; links other than http(s) stay text."""
    blocks = re.split(r"\n\s*\n", html.escape(str(text or "")).strip())
    out = []
    for block in blocks:
        lines = [ln.strip() for ln in block.splitlines() if ln.strip()]
        if not lines:
            continue
        if all(ln.startswith(("- ", "* ")) for ln in lines):
            items = "".join(f"<li>{_inline(ln[2:])}</li>" for ln in lines)
            out.append(f"<ul>{items}</ul>")
        else:
            out.append(f"<p>{_inline(' '.join(lines))}</p>")
    return Markup("\n".join(out))
