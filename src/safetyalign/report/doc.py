"""A tiny document model rendered twice: to self-contained XHTML-ish HTML and to Markdown.

Every section builds a list of blocks (paragraphs, tables, images, code, notes); :func:`to_html` escapes all
text with :func:`html.escape` (model output can contain anything) and embeds images as base64 data URIs, while
:func:`to_markdown` links images relative to the report file. No templates, no JavaScript.
"""

from __future__ import annotations

import base64
import html
import os
import re
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Cell:
    """A table cell; ``cls`` is a CSS class (``good``, ``bad``, ``neutral``, ``num``, ``muted``)."""

    text: str
    cls: str = ""


@dataclass
class Para:
    text: str
    cls: str = ""


@dataclass
class Table:
    headers: list[str]
    rows: list[list[Cell | str]]
    caption: str = ""
    cls: str = ""


@dataclass
class Image:
    path: Path
    alt: str
    caption: str = ""


@dataclass
class Gallery:
    """Images side by side (two per row in HTML)."""

    images: list[Image]


@dataclass
class Columns:
    """Blocks placed side by side in HTML (wrapping on narrow screens); one after another in Markdown."""

    blocks: list


@dataclass
class Code:
    text: str
    summary: str = ""  # when set, the block is collapsed in a <details> element


@dataclass
class Note:
    """A highlighted box: ``kind`` is ``notrun``, ``pass``, ``mixed``, ``fail`` or ``info``."""

    title: str
    lines: list[str] = field(default_factory=list)
    kind: str = "info"


@dataclass
class Pair:
    """A side-by-side sample: a title, a prompt and two labelled texts."""

    title: str
    prompt: str
    left_label: str
    left: str
    right_label: str
    right: str
    redacted: bool = False


@dataclass
class Heading:
    text: str


Block = Para | Table | Image | Gallery | Columns | Code | Note | Pair | Heading


@dataclass
class Section:
    """One report section with a stable ``id`` (anchor)."""

    id: str
    title: str
    blocks: list[Block] = field(default_factory=list)


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(text: object) -> str:
    """Any text made safe to write: control characters dropped, lone surrogates replaced (model output)."""
    s = _CONTROL.sub("", str(text))
    return s.encode("utf-8", "replace").decode("utf-8") if any("\ud800" <= c <= "\udfff" for c in s) else s


def png_size(path: Path) -> tuple[int, int] | None:
    """``(width, height)`` from a PNG header, or None for anything else."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(24)
    except OSError:
        return None
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def layout_images(images: list[Image], wide_ratio: float = 1.8) -> list[Block]:
    """Wide (multi-panel) images full width; runs of the others two per row in a :class:`Gallery`."""
    out: list[Block] = []
    run: list[Image] = []
    for img in images:
        size = png_size(img.path)
        if size and size[1] and size[0] / size[1] >= wide_ratio:
            if run:
                out.append(Gallery(run) if len(run) > 1 else run[0])
                run = []
            out.append(img)
        else:
            run.append(img)
    if run:
        out.append(Gallery(run))
    return out


def _e(text: object) -> str:
    return html.escape(clean_text(text), quote=True)


def _cell_html(cell: Cell | str, tag: str) -> str:
    if isinstance(cell, Cell):
        attr = f' class="{_e(cell.cls)}"' if cell.cls else ""
        return f"<{tag}{attr}>{_e(cell.text)}</{tag}>"
    return f"<{tag}>{_e(cell)}</{tag}>"


def _image_html(img: Image) -> str:
    try:
        data = base64.b64encode(Path(img.path).read_bytes()).decode("ascii")
    except OSError:
        return f'<p class="muted">image missing: {_e(Path(img.path).name)}</p>'
    cap = f"<figcaption>{_e(img.caption)}</figcaption>" if img.caption else ""
    return f'<figure><img src="data:image/png;base64,{data}" alt="{_e(img.alt)}"/>{cap}</figure>'


def block_html(block: Block) -> str:
    """One block as HTML (all text escaped)."""
    if isinstance(block, Heading):
        return f"<h3>{_e(block.text)}</h3>"
    if isinstance(block, Para):
        attr = f' class="{_e(block.cls)}"' if block.cls else ""
        return f"<p{attr}>{_e(block.text)}</p>"
    if isinstance(block, Table):
        cap = f"<caption>{_e(block.caption)}</caption>" if block.caption else ""
        head = "".join(_cell_html(h, "th") for h in block.headers)
        body = "".join("<tr>" + "".join(_cell_html(c, "td") for c in row) + "</tr>" for row in block.rows)
        cls = f' class="{_e(block.cls)}"' if block.cls else ""
        return f"<table{cls}>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    if isinstance(block, Image):
        return _image_html(block)
    if isinstance(block, Gallery):
        return '<div class="gallery">' + "".join(_image_html(i) for i in block.images) + "</div>"
    if isinstance(block, Columns):
        return '<div class="columns">' + "".join(f"<div>{block_html(b)}</div>" for b in block.blocks) + "</div>"
    if isinstance(block, Code):
        pre = f"<pre>{_e(block.text)}</pre>"
        if block.summary:
            return f"<details><summary>{_e(block.summary)}</summary>{pre}</details>"
        return pre
    if isinstance(block, Note):
        lines = "".join(f"<li>{_e(x)}</li>" for x in block.lines)
        body = f"<ul>{lines}</ul>" if lines else ""
        return f'<div class="note {_e(block.kind)}"><strong>{_e(block.title)}</strong>{body}</div>'
    if isinstance(block, Pair):
        red = ' <span class="tag">redacted</span>' if block.redacted else ""
        return (f'<div class="pair"><div class="pair-title">{_e(block.title)}{red}</div>'
                f'<div class="prompt"><span class="label">Prompt</span>{_e(block.prompt)}</div>'
                f'<div class="cols"><div class="col"><span class="label">{_e(block.left_label)}</span>'
                f'<div class="resp">{_e(block.left)}</div></div>'
                f'<div class="col"><span class="label">{_e(block.right_label)}</span>'
                f'<div class="resp">{_e(block.right)}</div></div></div></div>')
    raise TypeError(f"unknown block {type(block).__name__}")


def to_html(title: str, sections: list[Section], css: str, subtitle: str = "", top: list[Block] | None = None) -> str:
    """A complete, self-contained HTML page (inline CSS, embedded images, no scripts)."""
    nav = " ".join(f'<a href="#{_e(s.id)}">{_e(s.title)}</a>' for s in sections)
    parts = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8"/>',
             '<meta name="viewport" content="width=device-width, initial-scale=1"/>',
             f"<title>{_e(title)}</title>", f"<style>\n{css}\n</style>", "</head>", "<body>", "<main>",
             f"<h1>{_e(title)}</h1>"]
    if subtitle:
        parts.append(f'<p class="subtitle">{_e(subtitle)}</p>')
    parts.append(f"<nav>{nav}</nav>")
    parts += [block_html(b) for b in top or []]
    for s in sections:
        parts.append(f'<section id="{_e(s.id)}"><h2>{_e(s.title)}</h2>')
        parts += [block_html(b) for b in s.blocks]
        parts.append("</section>")
    parts += ["</main>", "</body>", "</html>", ""]
    return clean_text("\n".join(parts))


def _md_text(text: object) -> str:
    """Plain text for Markdown: raw HTML in model output is neutralised (``<`` becomes ``&lt;``)."""
    return clean_text(text).replace("\r", "").replace("<", "&lt;")


_MD_INLINE = str.maketrans({c: "\\" + c for c in "\\`*_[]|#"})


def _md_inline(text: object) -> str:
    """One-line field (heading, title, caption, label, alt text) for Markdown: HTML neutralised, newlines folded,
    and the characters that would start Markdown syntax (``[`` ``]`` ``*`` ``_`` ``#`` ``|`` backtick) escaped."""
    return " ".join(_md_text(text).replace(">", "&gt;").translate(_MD_INLINE).split())


def _md_cell(cell: Cell | str) -> str:
    text = cell.text if isinstance(cell, Cell) else cell
    classes = cell.cls.split() if isinstance(cell, Cell) else []
    mark = " ✅" if "good" in classes else " ❌" if "bad" in classes else ""
    out = _md_text(text).replace("|", "\\|").replace("\n", " ")
    return (f"**{out}**" if "strong" in classes and out else out) + mark


def _md_quote(text: str) -> str:
    return "\n".join("> " + line for line in _md_text(text).splitlines() or [""])


def block_markdown(block: Block, md_dir: Path) -> str:
    """One block as Markdown; images are linked relative to ``md_dir``."""
    if isinstance(block, Heading):
        return f"### {_md_inline(block.text)}"
    if isinstance(block, Para):
        return _md_text(block.text)
    if isinstance(block, Table):
        head = "| " + " | ".join(_md_cell(h) for h in block.headers) + " |"
        sep = "|" + "|".join("---" for _ in block.headers) + "|"
        rows = ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in block.rows]
        cap = [f"*{_md_inline(block.caption)}*", ""] if block.caption else []
        return "\n".join([*cap, head, sep, *rows])
    if isinstance(block, Image):
        rel = os.path.relpath(Path(block.path).resolve(), md_dir.resolve()).replace(os.sep, "/")
        rel = rel.replace("(", "%28").replace(")", "%29").replace(" ", "%20")
        return f"![{_md_inline(block.alt)}]({rel})" + (f"\n\n*{_md_inline(block.caption)}*" if block.caption else "")
    if isinstance(block, Gallery):
        return "\n\n".join(block_markdown(i, md_dir) for i in block.images)
    if isinstance(block, Columns):
        return "\n\n".join(block_markdown(b, md_dir) for b in block.blocks)
    if isinstance(block, Code):
        fence = "~~~~" if "```" in block.text else "```"
        body = f"{fence}\n{clean_text(block.text).rstrip()}\n{fence}"
        if not block.summary:
            return body
        return f"<details><summary>{_md_inline(block.summary)}</summary>\n\n{body}\n\n</details>"
    if isinstance(block, Note):
        icon = {"pass": "✅", "mixed": "⚠️", "fail": "❌", "notrun": "⏭️"}.get(block.kind, "ℹ️")
        return "\n".join([f"> {icon} **{_md_inline(block.title)}**", *[f"> - {_md_inline(x)}" for x in block.lines]])
    if isinstance(block, Pair):
        red = " *(redacted)*" if block.redacted else ""
        return "\n".join([f"**{_md_inline(block.title)}**{red}", "", "Prompt:", _md_quote(block.prompt), "",
                          f"{_md_inline(block.left_label)}:", _md_quote(block.left), "",
                          f"{_md_inline(block.right_label)}:", _md_quote(block.right)])
    raise TypeError(f"unknown block {type(block).__name__}")


def to_markdown(title: str, sections: list[Section], md_dir: Path, subtitle: str = "",
                top: list[Block] | None = None) -> str:
    """The same document as Markdown (GitHub-flavoured tables)."""
    parts = [f"# {_md_inline(title)}"]
    if subtitle:
        parts.append(_md_inline(subtitle))
    parts += [block_markdown(b, md_dir) for b in top or []]
    for s in sections:
        parts.append(f'<a id="{html.escape(s.id, quote=True)}"></a>\n\n## {_md_inline(s.title)}')
        parts += [block_markdown(b, md_dir) for b in s.blocks]
    return clean_text("\n\n".join(parts) + "\n")
