"""Markdown to HTML for the run reports, and ``OUT/index.html``: every report on one page.

The reports (:class:`jaxmle.report.Report`) and the index (:func:`jaxmle._runs.write_index`)
are Markdown that jaxmle writes itself, in a small fixed subset: ATX headings, paragraphs,
``**bold**``, ``*italic*`` / ``_italic_``, ```code```, backslash escapes, ``-`` and ``1.``
lists, pipe tables (GitHub's rules: the header and the delimiter row must have the same
number of cells), images and links. :func:`markdown_to_html` converts exactly that subset,
escaping every other character, so the page needs no dependency: the ``markdown`` package
is not one of jaxmle's, and a general converter would be a heavy addition for text whose
every construct is known here. Anything outside the subset comes out as escaped text, never
as raw HTML.

:func:`index_page` builds the self-contained page: each PNG becomes a ``data:`` URI (the page
opens from anywhere, as one file), tables sit in wrappers that scroll sideways instead of
widening the page, and links between studies become anchors within it.
"""

from __future__ import annotations

import base64
import html
import pathlib
import re
from collections.abc import Callable, Mapping, Sequence

__all__ = ["index_page", "markdown_to_html", "slug"]

Resolver = Callable[[str], "str | None"]

# Private-use characters mark the inline pieces already converted (code, escapes, links),
# so that emphasis and escaping never touch them; they are removed from the input first.
_OPEN, _CLOSE = "\ue000", "\ue001"
_HOLE = re.compile(f"{_OPEN}(\\d+){_CLOSE}")

_HEADING = re.compile(r"^(#{1,6})[ \t]+(.*?)[ \t]*#*[ \t]*$")
_BULLET = re.compile(r"^[-*+][ \t]+(.*)$")
_NUMBERED = re.compile(r"^(\d{1,9})[.)][ \t]+(.*)$")
_DELIM_CELL = re.compile(r"^:?-+:?$")
_FENCE = re.compile(r"^(```+|~~~+)")
_PUNCT = r"""!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~"""
_ESCAPE = re.compile(f"\\\\([{_PUNCT}])")
_CODE = re.compile(r"(`+)(.+?)(?<!`)\1(?!`)", re.S)
_LINK = re.compile(r"(?<!\\)(!?)\[((?:\\.|[^\]\\])*)\]\(\s*<?([^)\s>]*)>?(?:\s+\"([^\"]*)\")?\s*\)")
_STRONG = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*", re.S)
_EM_STAR = re.compile(r"(?<![*\w])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![*\w])", re.S)
_EM_UNDER = re.compile(r"(?<![_\w])_(?=[^\s_])(.+?)(?<=[^\s_])_(?![_\w])", re.S)
_SAFE_SCHEMES = ("http:", "https:", "mailto:")

_IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
                ".gif": "image/gif", ".svg": "image/svg+xml", ".webp": "image/webp"}  # fmt: skip


def slug(text: str) -> str:
    """A heading's anchor: lower case, words joined by ``-`` (letters of any script kept).

    Args:
        text: the heading's text (Markdown markup is dropped).

    Returns:
        The anchor, ``"section"`` when nothing is left.

    Example:
        >>> slug("Task 1: plain gradient ascent & the λ")
        'task-1-plain-gradient-ascent-the-λ'
    """
    words = re.findall(r"\w+", re.sub(r"[`*]|\]\([^)]*\)", " ", text.lower()))
    return "-".join(words) or "section"


def _split_row(line: str) -> list[str]:
    r"""The cells of a pipe-table row (``\|`` stays in the cell, as an escaped pipe)."""
    s = line.strip()
    s = s[1:] if s.startswith("|") else s
    if s.endswith("|") and not s.endswith("\\|"):
        s = s[:-1]
    return [c.strip() for c in re.split(r"(?<!\\)\|", s)]


def _delimiters(line: str) -> list[str] | None:
    """The alignments (``"left"``, ``"right"``, ``"center"``, ``""``) of a delimiter row."""
    if "-" not in line or not set(line.strip()) <= set("|:- \t"):
        return None
    cells = _split_row(line)
    if not all(_DELIM_CELL.match(c) for c in cells):
        return None
    return ["center" if c.startswith(":") and c.endswith(":") else "right" if c.endswith(":")
            else "left" if c.startswith(":") else "" for c in cells]  # fmt: skip


def _safe_href(href: str) -> str | None:
    """``href`` when it is relative, an anchor or http(s)/mailto; None for other schemes."""
    scheme = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*):", href)
    if scheme and not href.lower().startswith(_SAFE_SCHEMES):
        return None  # javascript:, data:, file: ... never become links
    return href


class _Converter:
    """One document's conversion: holds the resolvers and the heading ids used so far."""

    def __init__(self, link: Resolver | None, image: Resolver | None, heading_offset: int,
                 id_prefix: str, ids: set[str]) -> None:  # fmt: skip
        self.link = link or (lambda href: href)
        self.image = image or (lambda src: src)
        self.offset, self.prefix, self.ids = heading_offset, id_prefix, ids

    # -- inline ------------------------------------------------------------------------

    def inline(self, text: str, holes: list[str] | None = None) -> str:
        top = holes is None
        holes = [] if holes is None else holes  # shared with the labels of links inside

        def hole(html_text: str) -> str:
            holes.append(html_text)
            return f"{_OPEN}{len(holes) - 1}{_CLOSE}"

        def fill(s: str) -> str:
            while _HOLE.search(s):  # holes may hold holes (a link's label)
                s = _HOLE.sub(lambda m: holes[int(m.group(1))], s)
            return s

        def code(m: re.Match) -> str:
            body = m.group(2).replace("\n", " ")
            if body.strip() and body.startswith(" ") and body.endswith(" "):
                body = body[1:-1]
            return hole(f"<code>{html.escape(body)}</code>")

        def link(m: re.Match) -> str:
            bang, label, target, title = m.groups()
            if bang:  # alt text is plain: escapes undone, code shown as its text
                alt = _HOLE.sub(
                    lambda h: html.unescape(re.sub(r"<[^>]*>", "", fill(h[0]))),
                    _ESCAPE.sub(r"\1", label),
                )
                return hole(self._image(target, alt, title))
            href = self.link(target)
            href = _safe_href(href) if href is not None else None
            inner = self.inline(label, holes)
            if href is None:
                return hole(inner)
            t = f' title="{html.escape(title)}"' if title else ""
            return hole(f'<a href="{html.escape(href)}"{t}>{inner}</a>')

        if top:
            text = text.replace(_OPEN, "").replace(_CLOSE, "")
            text = _CODE.sub(code, text)
            text = _LINK.sub(link, text)
        text = _ESCAPE.sub(lambda m: hole(html.escape(m.group(1))), text)
        text = html.escape(text, quote=False)
        text = _STRONG.sub(r"<strong>\1</strong>", text)
        text = _EM_STAR.sub(r"<em>\1</em>", text)
        text = _EM_UNDER.sub(r"<em>\1</em>", text)
        return fill(text) if top else text

    def _image(self, src: str, alt: str, title: str | None) -> str:
        url = self.image(src)
        if url is None:
            return (f'<span class="missing">[image not found: {html.escape(src)}'
                    f"{' (' + html.escape(alt) + ')' if alt else ''}]</span>")  # fmt: skip
        t = f' title="{html.escape(title)}"' if title else ""
        return f'<img src="{html.escape(url)}" alt="{html.escape(alt)}"{t}>'

    # -- blocks ------------------------------------------------------------------------

    def heading(self, level: int, text: str) -> str:
        base = f"{self.prefix}{slug(text)}"
        anchor, n = base, 1
        while anchor in self.ids:
            n += 1
            anchor = f"{base}-{n}"
        self.ids.add(anchor)
        h = min(level + self.offset, 6)
        return f'<h{h} id="{html.escape(anchor)}">{self.inline(text)}</h{h}>'

    def table(self, header: list[str], aligns: list[str], rows: list[list[str]]) -> str:
        styles = [f' style="text-align:{a}"' if a else "" for a in aligns]

        def cells(tag: str, row: list[str]) -> str:
            row = (row + [""] * len(aligns))[: len(aligns)]  # GitHub: pad or cut to the header
            return "".join(
                f"<{tag}{s}>{self.inline(c)}</{tag}>" for c, s in zip(row, styles, strict=True)
            )

        body = "".join(f"<tr>{cells('td', r)}</tr>" for r in rows)
        return (f'<div class="table-wrap"><table><thead><tr>{cells("th", header)}</tr></thead>'
                f"<tbody>{body}</tbody></table></div>")  # fmt: skip

    def convert(self, text: str) -> str:
        lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        out: list[str] = []
        para: list[str] = []
        i = 0

        def flush() -> None:
            if para:
                out.append(f"<p>{self.inline(chr(10).join(para))}</p>")
                para.clear()

        while i < len(lines):
            line = lines[i]
            stripped = line.strip()
            if not stripped:
                flush()
                i += 1
                continue
            if m := _FENCE.match(stripped):
                flush()
                fence, body = m.group(1), []
                i += 1
                while i < len(lines) and not lines[i].strip().startswith(fence):
                    body.append(lines[i])
                    i += 1
                out.append(f"<pre><code>{html.escape(chr(10).join(body))}</code></pre>")
                i += 1
                continue
            if m := _HEADING.match(stripped):
                flush()
                out.append(self.heading(len(m.group(1)), m.group(2)))
                i += 1
                continue
            aligns = _delimiters(lines[i + 1]) if i + 1 < len(lines) and "|" in line else None
            if aligns is not None and len(_split_row(line)) == len(aligns):
                flush()
                header, rows = _split_row(line), []
                i += 2
                while i < len(lines) and "|" in lines[i] and lines[i].strip():
                    rows.append(_split_row(lines[i]))
                    i += 1
                out.append(self.table(header, aligns, rows))
                continue
            if _BULLET.match(stripped) or _NUMBERED.match(stripped):
                flush()
                i = self.list_block(lines, i, out)
                continue
            para.append(stripped)
            i += 1
        flush()
        return "\n".join(out)

    def list_block(self, lines: list[str], i: int, out: list[str]) -> int:
        """One list (items of one kind; indented lines continue an item); returns the next line."""
        numbered = bool(_NUMBERED.match(lines[i].strip()))
        pattern = _NUMBERED if numbered else _BULLET
        start = int(_NUMBERED.match(lines[i].strip()).group(1)) if numbered else 1
        items: list[list[str]] = []
        while i < len(lines) and lines[i].strip():
            m = pattern.match(lines[i].strip()) if not lines[i].startswith((" ", "\t")) else None
            if m:
                items.append([m.group(m.lastindex)])
            elif items and lines[i].startswith((" ", "\t")):
                items[-1].append(lines[i].strip())
            else:
                break
            i += 1
        tag = "ol" if numbered else "ul"
        first = f' start="{start}"' if numbered and start != 1 else ""
        body = "".join(f"<li>{self.inline(chr(10).join(item))}</li>" for item in items)
        out.append(f"<{tag}{first}>{body}</{tag}>")
        return i


def markdown_to_html(text: str, *, link: Resolver | None = None, image: Resolver | None = None,
                     heading_offset: int = 0, id_prefix: str = "",
                     ids: set[str] | None = None) -> str:  # fmt: skip
    """Converts the Markdown subset jaxmle's reports use to an HTML fragment.

    Headings (``#`` to ``######``, each with an ``id``), paragraphs, ``**bold**``,
    ``*italic*``, ``_italic_`` (not inside words: ``θ_MAP`` stays as it is), ```code```,
    backslash escapes, ``-``/``*``/``1.`` lists, pipe tables (wrapped in a
    ``<div class="table-wrap">``), images ``![alt](src)`` and links ``[text](href)``. All other
    text is HTML-escaped; raw HTML in the input is shown, not interpreted.

    Args:
        text: the Markdown.
        link: maps a link's target to the ``href`` to write, or None to drop the link (keep
            its text). Default: unchanged. Schemes other than http(s)/mailto are dropped.
        image: maps an image's source to the URL to write (e.g. a ``data:`` URI), or None
            when it cannot be had (a visible "image not found" note is written instead).
            Default: unchanged.
        heading_offset: added to every heading level (1 turns ``#`` into ``<h2>``).
        id_prefix: prepended to every heading's ``id``.
        ids: ids already used on the page (updated), so that repeated headings stay unique.

    Returns:
        The HTML fragment.

    Example:
        >>> markdown_to_html("**p** < 0.05 for `x_1`, θ_MAP = *0.48*")
        '<p><strong>p</strong> &lt; 0.05 for <code>x_1</code>, θ_MAP = <em>0.48</em></p>'
    """
    conv = _Converter(link, image, heading_offset, id_prefix, set() if ids is None else ids)
    return conv.convert(text)


# ------------------------------------------------------------------------------------------
# The page: OUT/index.html.

_CSS = """
*, *::before, *::after { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: #1f2328; background: #fff; }
main { max-width: 72rem; margin: 0 auto; padding: 1rem 1.25rem 4rem; }
/* Long numbers, paths and words wrap rather than widen the page; table cells keep their
   words whole (the table scrolls instead), as "anywhere" would also shrink their columns. */
p, li, h1, h2, h3, h4, h5, h6 { overflow-wrap: anywhere; }
th, td { overflow-wrap: break-word; }
h1 { font-size: 1.9rem; border-bottom: 1px solid #d0d7de; padding-bottom: .3rem; }
h2 { font-size: 1.55rem; border-bottom: 1px solid #d0d7de; padding-bottom: .25rem;
     margin-top: 3rem; }
h3 { font-size: 1.2rem; margin-top: 2rem; }
h4, h5, h6 { font-size: 1rem; }
code { font: .88em/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
       background: #f0f2f4; padding: .1em .3em; border-radius: 4px; }
pre { max-width: 100%; overflow-x: auto; background: #f6f8fa; padding: .75rem;
      border-radius: 6px; }
pre code { background: none; padding: 0; }
/* Tables never widen the page: a wide one scrolls sideways inside its wrapper. */
.table-wrap { max-width: 100%; overflow-x: auto; margin: 1rem 0; }
table { border-collapse: collapse; font-size: .9rem; }
th, td { border: 1px solid #d0d7de; padding: .3rem .55rem; vertical-align: top; }
th { background: #f6f8fa; }
tbody tr:nth-child(even) { background: #fafbfc; }
img { display: block; max-width: 100%; height: auto; margin: 1rem 0; }
.status { color: #57606a; font-size: .92rem; margin: .25rem 0 1rem; }
.status.warn, .missing { color: #9a6700; }
.top { font-size: .9rem; margin-top: 2rem; }
.study { border-top: 3px solid #d0d7de; margin-top: 3rem; }
"""


def _data_uri(path: pathlib.Path) -> str | None:
    mime = _IMAGE_TYPES.get(path.suffix.lower())
    try:
        data = path.read_bytes() if mime else None
    except OSError:
        return None
    return None if data is None else f"data:{mime};base64,{base64.b64encode(data).decode()}"


def _inside(path: pathlib.Path, folder: pathlib.Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def _study_link(name: str, names: Sequence[str]) -> Resolver:
    """Links in ``OUT/NAME/report.md`` (``NAME`` empty: in the index) as seen from ``OUT``."""

    def resolve(href: str) -> str:
        if not href or href.startswith("#") or re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", href):
            return href
        path, _, frag = href.partition("#")
        rel = pathlib.PurePosixPath(name, path) if name else pathlib.PurePosixPath(path)
        parts = rel.parts
        if len(parts) == 2 and parts[1] == "report.md" and parts[0] in names:
            return f"#{parts[0]}"  # that study's section on this page
        return str(rel) + (f"#{frag}" if frag else "")

    return resolve


def _image_inliner(folder: pathlib.Path) -> Resolver:
    """An image resolver that inlines the files inside ``folder`` (and nothing outside it)."""

    def resolve(src: str) -> str | None:
        if src.startswith("data:image/"):
            return src
        if not src or re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", src) or src.startswith("/"):
            return None  # a self-contained page loads nothing from elsewhere
        path = folder / src
        return _data_uri(path) if _inside(path, folder) else None

    return resolve


def index_page(out: str | pathlib.Path, index_md: str, names: Sequence[str],
               status: Mapping[str, Sequence[str]] | None = None,
               warnings: Mapping[str, Sequence[str]] | None = None,
               title: str = "jaxmle experiments") -> str:  # fmt: skip
    """The self-contained HTML page for a results folder: the index, then every report.

    The index's Markdown comes first (its links to ``NAME/report.md`` become links to that
    study's section), then one ``<section id="NAME">`` per study with its status lines and
    its ``report.md`` (headings one level down, ids prefixed ``NAME-``, images inlined as
    ``data:`` URIs, links to its files made relative to ``out``).

    Args:
        out: the results folder (``OUT``).
        index_md: the index's Markdown (what ``OUT/index.md`` holds).
        names: the studies to include, in page order (``OUT/NAME/report.md`` each).
        status: lines shown above a study's report (its run settings), by name.
        warnings: lines shown highlighted above a study's report (a run in progress, an
            interrupted one), by name.
        title: the page's title.

    Returns:
        The HTML document.

    Example:
        >>> import tempfile
        >>> page = index_page(tempfile.mkdtemp(), "# Runs", [])
        >>> page.startswith("<!DOCTYPE html>") and '<h1 id="runs">Runs</h1>' in page
        True
    """
    out = pathlib.Path(out)
    status, warnings = status or {}, warnings or {}
    ids: set[str] = {n for n in names} | {"top"}
    parts = [markdown_to_html(index_md, link=_study_link("", names), ids=ids,
                              image=_image_inliner(out))]  # fmt: skip
    for name in names:
        folder = out / name
        try:
            report = (folder / "report.md").read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            body = f'<p class="status warn">{html.escape(f"report.md unreadable: {err}")}</p>'
        else:
            body = markdown_to_html(report, link=_study_link(name, names), heading_offset=1,
                                    id_prefix=f"{name}-", ids=ids,
                                    image=_image_inliner(folder))  # fmt: skip
        lines = "".join(
            f'<p class="status">{html.escape(line)}</p>' for line in status.get(name, ())
        )
        lines += "".join(
            f'<p class="status warn">{html.escape(line)}</p>' for line in warnings.get(name, ())
        )
        # The report's own title first, then the run's status lines under it.
        head, sep, rest = body.partition("</h2>")
        head, rest = (head + sep, rest) if sep else ("", body)
        parts.append(f'<section class="study" id="{html.escape(name)}">\n{head}\n'
                     f'<p class="status"><code>{html.escape(name)}</code> · '
                     f'<a href="{html.escape(name)}/report.md">report.md</a></p>{lines}\n'
                     f'{rest}\n<p class="top"><a href="#top">↑ all studies</a></p>\n'
                     "</section>")  # fmt: skip
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n"
        '<body>\n<main id="top">\n' + "\n".join(parts) + "\n</main>\n</body>\n</html>\n"
    )
