"""Convert: one file's decoded text to plain text that keeps the structure retrieval and citation need.

    html_to_text("<h2>OPTIONS</h2><dl><dt>-n</dt><dt>--dry-run</dt><dd><p>Don't remove.</p></dd></dl>")
    == "## OPTIONS\n-n, --dry-run: Don't remove."

Documentation tools (Sphinx, asciidoc, mkdocs, Javadoc…) write the same few structures; each becomes plain
lines that the later stages understand without knowing the tool:
- headings become markdown heading lines ("## OPTIONS"), which the chunker uses as section titles;
- a definition-list term stays on the line of its description ("-f, --force: Allow adding …"), so the
  name of an option, function or glossary entry is in the sentence that says what it does; the further
  paragraphs of a description join that line (qa.sentences.entry_term reads the term back);
- code (`<pre>`) is fenced with ``` lines and kept line by line, never re-wrapped or joined;
- table rows become one line, cells joined by " | ";
- navigation, sidebars, tables of contents, footers, header links ("¶") and scripts are dropped.
Inline whitespace collapses as a browser collapses it.
"""

from __future__ import annotations

import re

FENCE = "```"
DROPPED_TAGS = "script, style, noscript, nav, header, footer, aside, template, svg, form, button, iframe, object"
# class or id words of page furniture that documentation generators put around the content
FURNITURE = re.compile(
    r"^(?:.*[-_])?(?:nav|navbar|navigation|sidebar|sphinxsidebar|toc|toctree-wrapper|breadcrumbs?|footer|"
    r"headerlink|skip-link|skiplink|related|searchbox|menu|md-sidebar|md-header|md-footer|rst-footer-buttons|"
    r"wy-nav-side|bd-sidebar|sidebar-primary|sidebar-secondary|prev-next-area|edit-this-page|cookie-banner)"
    r"(?:[-_].*)?$",
    re.IGNORECASE,
)
ROLES = {"navigation", "banner", "contentinfo", "search", "complementary"}
HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
BLOCKS = {
    "p",
    "div",
    "section",
    "article",
    "main",
    "body",
    "ul",
    "ol",
    "li",
    "blockquote",
    "figure",
    "figcaption",
    "caption",
    "table",
    "thead",
    "tbody",
    "tfoot",
    "address",
    "details",
    "summary",
    "center",
    "hr",
    "br",
    "dl",
    "dt",
    "dd",
    "tr",
    "td",
    "th",
    "pre",
    "html",
} | HEADINGS
SEPARATE = {"ul", "ol", "table", "blockquote", "figure", "details"}
SPACE = re.compile(r"\s+")


def html_to_text(html: str) -> str:
    """Plain text of an HTML page, structure kept as described in the module docstring."""
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(html)
    title = tree.css_first("title")
    page_title = _collapse(title.text(deep=True)) if title is not None else ""
    _remove(tree.css(DROPPED_TAGS))
    _remove([node for node in tree.css("[class], [id], [role]") if _is_furniture(node)])
    body = tree.body or tree.root
    if body is None:
        return ""
    writer = _Writer()
    writer.walk(body)
    text = writer.text()
    if page_title and not re.search(r"^# ", text, re.MULTILINE) and page_title not in text[:500]:
        text = f"# {page_title}\n{text}"  # the page's name, as its top heading
    return text


def _remove(nodes: list) -> None:
    """Decompose the outermost of `nodes` (a descendant goes with its ancestor, and must not be freed twice)."""
    keys = {n.mem_id for n in nodes}
    for node in nodes:
        parent, inside = node.parent, False
        while parent is not None:
            if parent.mem_id in keys:
                inside = True
                break
            parent = parent.parent
        if not inside:
            node.decompose()


def _is_furniture(node) -> bool:
    attributes = node.attributes
    if (attributes.get("role") or "").lower() in ROLES:
        return True
    words = (attributes.get("class") or "").split() + (attributes.get("id") or "").split()
    return any(FURNITURE.match(word) for word in words)


def _collapse(text: str) -> str:
    return SPACE.sub(" ", text).strip()


class _Writer:
    """Walks the DOM, gathering inline text into lines; block elements end lines."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.inline: list[str] = []
        self.prefix = ""  # a definition-list term waiting for the first line of its description
        self.entry: int | None = None  # in a <dd>: the index of its line that later paragraphs join (-1: none yet)

    def text(self) -> str:
        self.flush()
        return "\n".join(self.lines)

    def flush(self) -> None:
        line = _collapse("".join(self.inline))
        self.inline = []
        if line:
            self.lines.append(self.prefix + line)
            self.prefix = ""

    def paragraph(self) -> None:
        """End a paragraph of a <dd>: the paragraphs after its first join the entry's line, so that each
        sentence of the description sits on the line that names its term ("gc.auto: … The default value is
        6700."); after code or a nested list, a paragraph starts its own line."""
        line = _collapse("".join(self.inline))
        self.inline = []
        if not line:
            return
        if self.entry is not None and self.entry >= 0 and self.entry == len(self.lines) - 1:
            self.lines[-1] += " " + line
        else:
            self.lines.append(self.prefix + line)
            self.prefix = ""
            self.entry = len(self.lines) - 1 if self.entry == -1 else None

    def emit(self, line: str) -> None:
        self.flush()
        if self.prefix:  # a term whose description starts with a heading or code: keep the term on its own line
            self.lines.append(self.prefix.rstrip(": ") + ":")
            self.prefix = ""
        self.lines.append(line)

    def walk(self, node) -> None:
        for child in node.iter(include_text=True):
            tag = child.tag
            if tag == "-text":
                self.inline.append(child.text_content or "")
            elif tag in HEADINGS:
                heading = _collapse(child.text(deep=True))
                if heading:
                    self.emit("#" * int(tag[1]) + " " + heading)
            elif tag == "pre":
                self.code(child)
            elif tag == "dl":
                self.definitions(child)
            elif tag == "tr":
                self.flush()
                cells = [_collapse(cell.text(deep=True)) for cell in child.iter() if cell.tag in ("td", "th")]
                if any(cells):
                    self.emit(" | ".join(cells))
            elif tag == "br":
                self.flush()
            elif tag == "p" and self.entry is not None:
                self.flush()
                self.walk(child)
                self.paragraph()
            elif tag in BLOCKS:
                self.flush()
                if tag in SEPARATE:
                    self.entry = None  # a list or table in a description: its items keep their own lines
                self.walk(child)
                self.flush()
            else:
                self.walk(child)

    def code(self, node) -> None:
        lines = [line.rstrip() for line in (node.text(deep=True) or "").expandtabs(8).split("\n")]
        while lines and not lines[0].strip():
            lines.pop(0)
        while lines and not lines[-1].strip():
            lines.pop()
        if lines:
            self.emit(FENCE)
            self.lines.extend(lines)
            self.lines.append(FENCE)

    def definitions(self, node) -> None:
        """Each group of <dt> terms, joined by ", ", prefixes the first line of the <dd> that follows."""
        self.flush()
        terms: list[str] = []
        for child in node.iter():
            if child.tag == "dt":
                term = _collapse(child.text(deep=True))
                if term:
                    terms.append(term)
            elif child.tag == "dd":
                self.prefix = (", ".join(terms) + ": ") if terms else ""
                terms = []
                outer, self.entry = self.entry, -1
                self.walk(child)
                self.flush()
                self.entry = outer
                if self.prefix:  # an empty description: the term alone
                    self.lines.append(self.prefix.rstrip(": "))
                    self.prefix = ""
            elif child.tag == "div":  # some generators wrap each entry (<div><dt/><dd/></div>)
                self.definitions(child)
        if terms:  # terms with no description
            self.emit(", ".join(terms))
