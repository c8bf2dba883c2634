"""index/convert.py and the structure it keeps: reference pages of documentation generators, by example."""

from __future__ import annotations

from index.chunk import chunk_document
from index.clean import clean_corpus
from index.convert import html_to_text
from qa.records import SourceDoc
from qa.sentences import sentence_spans

MANPAGE = """<html><head><title>git-clean(1)</title><style>p{color:red}</style></head><body>
<div id="header"><h1>git-clean(1) Manual Page</h1><h2>NAME</h2><div class="sectionbody"><p>git-clean -
   Remove untracked files
</p></div></div>
<div id="toc"><a href="#_options">OPTIONS</a></div>
<div id="content"><h2 id="_synopsis">SYNOPSIS</h2><pre class="content"><em>git clean</em> [-d] [-f]
          [-n] [--] [&lt;pathspec&gt;&#8230;]</pre>
<h2 id="_options">OPTIONS</h2><div class="dlist"><dl>
<dt class="hdlist1">-n</dt><dt class="hdlist1">--dry-run</dt>
<dd><p>Don&#8217;t actually remove anything, just show
        what would be done.</p><p>A second paragraph.</p></dd>
<dt>-q</dt><dd><p>Be quiet.</p></dd>
</dl></div></div>
<div id="footer"><div id="footer-text">Last updated 2024-05-31 00:35:55 UTC</div></div>
</body></html>"""


def test_a_manual_page_keeps_headings_terms_and_code():
    assert html_to_text(MANPAGE).split("\n") == [
        "# git-clean(1) Manual Page",
        "## NAME",
        "git-clean - Remove untracked files",
        "## SYNOPSIS",
        "```",
        "git clean [-d] [-f]",
        "          [-n] [--] [<pathspec>…]",
        "```",
        "## OPTIONS",
        "-n, --dry-run: Don’t actually remove anything, just show what would be done. A second paragraph.",
        "-q: Be quiet.",
    ]  # a description's later paragraphs join the line of its term


def test_a_list_in_a_description_keeps_its_items_on_their_own_lines():
    html = (
        "<dl><dt>color.ui</dt><dd><p>When to colour.</p><p>The default is auto.</p>"
        "<ul><li><p>never</p></li><li><p>always</p></li></ul><p>After the list.</p></dd></dl>"
    )
    assert html_to_text(html).split("\n") == [
        "color.ui: When to colour. The default is auto.",
        "never",
        "always",
        "After the list.",
    ]


def test_site_furniture_is_dropped():
    page = """<body><nav>Home | Docs</nav><div class="sphinxsidebar">Search</div>
    <div role="navigation">Previous</div><div class="body"><h1>Config<a class="headerlink" href="#c">¶</a></h1>
    <p>Real text.</p></div><footer>© 2024</footer><div class="md-sidebar--secondary">On this page</div></body>"""
    assert html_to_text(page) == "# Config\nReal text."


def test_a_page_without_a_top_heading_is_named_by_its_title():
    assert html_to_text("<title>Release notes</title><p>Nothing new.</p>") == "# Release notes\nNothing new."


def test_table_rows_are_lines_and_cells_are_kept_apart():
    html = "<table><tr><th>option</th><th>default</th></tr><tr><td>depth</td><td>1</td></tr></table>"
    assert html_to_text(html) == "option | default\ndepth | 1"


def test_cleaning_keeps_code_lines_and_never_joins_into_a_heading():
    doc = SourceDoc("page.html", html_to_text(MANPAGE))
    cleaned = clean_corpus([doc])[0]
    assert "          [-n] [--] [<pathspec>...]" in cleaned.text.split("\n")  # NFKC: … is ...
    assert "## NAME" in cleaned.text.split("\n")
    assert cleaned.title == "git-clean(1) Manual Page"


def test_sections_are_titled_by_their_heading_path_and_code_blocks_stay_whole():
    doc = clean_corpus([SourceDoc("page.html", html_to_text(MANPAGE))])[0]
    chunks = chunk_document(doc, target_chars=10, max_chars=200)
    titles = [c.title for c in chunks]
    assert titles[0] == "git-clean(1) Manual Page › NAME"  # the page heading joins its first section
    synopsis = next(c for c in chunks if c.title.endswith("SYNOPSIS") and "```" in c.text)
    assert synopsis.text.count("```") == 2  # one unit, fence to fence
    option = next(c for c in chunks if "--dry-run" in c.text)
    assert option.title == "git-clean(1) Manual Page › OPTIONS"
    assert "-n, --dry-run: Don’t actually remove anything" in option.text


def test_fence_lines_are_no_sentence_and_code_lines_are_never_split():
    text = "Run this:\n```\n$ git clean -n. Then -f\n```\nDone."
    assert [text[s:e] for s, e in sentence_spans(text)] == ["Run this:", "$ git clean -n. Then -f", "Done."]
