"""The static book (gnnedu/book.py): the build copy, the generated pages, the built site, and the
site opened in headless Debian Chromium (playwright-python, the widget check's harness).

The site tests read ``_build/book/html`` (``make book``; ``$GNNEDU_BOOK_HTML`` overrides). Without a
built book, or without Chromium for the browser tests, they skip, unless ``CI=true`` or
``GNNEDU_REQUIRE_BROWSER=1`` turns the skip into a failure. A failing page is screenshotted into
``$GNNEDU_ARTIFACTS`` (default ``test-artifacts/browser/``).
"""

from __future__ import annotations

import base64
import functools
import http.server
import io
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import browser_util as bu
import matplotlib
import nbformat
import pytest

from gnnedu import book, plot

REQUIRE = os.environ.get("GNNEDU_REQUIRE_BROWSER") == "1" or os.environ.get("CI") == "true"
SITE = Path(os.environ.get("GNNEDU_BOOK_HTML", book.BUILD / "html"))
PAGES = book.numbered_notebooks() + [book.NOTEBOOKS / "glossary.ipynb"]


def _unavailable(reason: str):
    if REQUIRE:
        pytest.fail(f"CI / GNNEDU_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


def png_output(color="white") -> dict:
    fig, ax = plot.new_figure(figsize=(2, 1.5))
    ax.plot([0, 1], [0, 1], color="black")
    fig.set_facecolor(color)
    data = base64.b64encode(plot.figure_to_png(fig, dpi=30)).decode()
    return nbformat.v4.new_output("display_data", data={"image/png": data, "text/plain": "<Fig>"})


def widget_output(model_id="m1") -> dict:
    view = {"model_id": model_id, "version_major": 2, "version_minor": 0}
    return nbformat.v4.new_output("display_data", data={
        book.WIDGET_MIME: view, "text/plain": "interactive(children=(IntSlider(value=3),))"})


def tiny_notebook() -> nbformat.NotebookNode:
    """A numbered notebook with what the book handles: math, a figure and its caption, a link
    to another page, a widget whose plain call comes first."""
    draw = nbformat.v4.new_code_cell("gw.draw_receptive_field(G, POS, state)",
                                     outputs=[png_output()])
    widget = nbformat.v4.new_code_cell(
        "explorer = gw.ReceptiveFieldExplorer({'g': G}, {'g': POS}, k=2)\nexplorer",
        outputs=[widget_output()])
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells = [
        nbformat.v4.new_markdown_cell("# 00 · Tiny\n\n**Estimated time.** 5 minutes in class, "
                                      "10 minutes on your own. See the [next](01_next.ipynb)."),
        nbformat.v4.new_markdown_cell("The matrix $\\hat A = D^{-1/2} A D^{-1/2}$ and\n\n"
                                      "$$S = \\tilde D^{-1/2} \\tilde A \\tilde D^{-1/2}$$"),
        draw,
        nbformat.v4.new_markdown_cell("*Two hops from node 0 reach every node.*"),
        widget,
    ]
    return nb


# ---------------------------------------------------------------------------------------------
# The build copy and the generated pages (no build, no browser)
# ---------------------------------------------------------------------------------------------


def test_alt_text_comes_from_the_caption():
    nb = tiny_notebook()
    book.add_alt_text(nb, "00_tiny")
    alt = nb.cells[2].metadata["mystnb"]["image"]["alt"]
    assert alt == "Two hops from node 0 reach every node."
    nb.cells.append(nbformat.v4.new_code_cell("fig", outputs=[png_output()]))
    book.add_alt_text(nb, "00_tiny")  # a figure with no caption after it: described by its cell
    assert nb.cells[-1].metadata["mystnb"]["image"]["alt"] == "Figure of 00_tiny, drawn by: fig"


def test_widget_becomes_the_plain_calls_drawing_with_a_caption():
    nb = tiny_notebook()
    assert book.make_widgets_static(nb, book._widget_classes()) == 1
    cell = nb.cells[4]
    assert book.STATIC_WIDGET_TAG in cell.metadata["tags"]
    kinds = [next(iter(o["data"])) for o in cell.outputs]
    assert kinds == ["image/png", "text/markdown"]  # no widget view, no "interactive(...)"
    assert cell.outputs[0]["data"]["image/png"] == nb.cells[2].outputs[0]["data"]["image/png"]
    caption = cell.outputs[1]["data"]["text/markdown"]
    for word in ("layers k", "self-loops", "Binder", "Colab", "make lab"):
        assert word in caption


def test_widget_drawing_from_saved_state_wins():
    """With saved widget state (a copy executed by --execute), the widget's own first image."""
    nb = tiny_notebook()
    saved = png_output(color="#eeeeee")["data"]["image/png"]
    nb.metadata["widgets"] = {book.WIDGET_STATE_MIME: {"state": {
        "m1": {"model_name": "VBoxModel", "state": {"children": ["IPY_MODEL_m2"]}},
        "m2": {"model_name": "OutputModel", "state": {"outputs": [
            {"output_type": "display_data", "data": {"image/png": saved}, "metadata": {}}]}},
    }}}
    book.make_widgets_static(nb, book._widget_classes())
    assert nb.cells[4].outputs[0]["data"]["image/png"] == saved
    assert "saved when this page was built" in nb.cells[4].outputs[-1]["data"]["text/markdown"]


def test_interact_cell_shows_the_printed_default():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("print(average(VALUES, 3))", outputs=[
            nbformat.v4.new_output("stream", name="stdout", text="[1. 2.]\n")]),
        nbformat.v4.new_code_cell(
            "widgets.interact(lambda rounds: print(average(VALUES, rounds)),\n"
            "    rounds=widgets.IntSlider(value=3, description=\"rounds\"));",
            outputs=[widget_output()]),
    ]
    book.make_widgets_static(nb, book._widget_classes())
    outs = nb.cells[1].outputs
    assert outs[0]["text"] == "[1. 2.]\n" and "*rounds*" in outs[-1]["data"]["text/markdown"]


def test_colab_cell_is_idempotent_and_silent_outside_colab(tmp_path):
    path = tmp_path / "00_tiny.ipynb"
    nbformat.write(tiny_notebook(), path)
    run = [sys.executable, "-m", "gnnedu.book", "colab-cell"]
    subprocess.run(run + [str(path)], check=True, cwd=book.ROOT)
    once = path.read_text()
    assert subprocess.run(run + ["--check", str(path)], cwd=book.ROOT).returncode == 0
    subprocess.run(run + [str(path)], check=True, cwd=book.ROOT)
    assert path.read_text() == once  # a second run changes nothing
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[0].source.startswith("# 00 · Tiny")  # the title stays first (docs.py)
    cell = nb.cells[1]
    assert book.COLAB_TAG in cell.metadata["tags"] and book.repository_url() in cell.source
    # Outside Colab it prints nothing and changes no directory (nbval compares no output).
    probe = cell.source + "\nimport os\nprint(os.getcwd())"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          cwd=tmp_path, check=True)
    assert done.stdout.strip() == str(tmp_path) and done.stderr == ""
    # A stale cell (another URL) is found by --check and updated in place, not duplicated.
    current = cell.source
    book.add_colab_cell(nb, url="https://example.org/old.git")
    nbformat.write(nb, path)
    assert subprocess.run(run + ["--check", str(path)], cwd=book.ROOT).returncode == 1
    subprocess.run(run + [str(path)], check=True, cwd=book.ROOT)
    again = nbformat.read(path, as_version=4)
    assert sum(book.COLAB_TAG in c.metadata.get("tags", []) for c in again.cells) == 1
    assert again.cells[1].source == current


def test_landing_page_maps_every_notebook_with_times():
    text = book.landing_page(book.numbered_notebooks(), book.PAGES_MD)
    for path in book.numbered_notebooks():
        assert f"]({path.name})" in text and path.stem in text  # map row and toctree entry
    assert "| 15 min | 30 min |" in text  # 00_welcome's estimate
    assert book.repository_url() in text and "make book" in text


def test_results_page_has_every_file_and_survives_a_bad_one(tmp_path):
    text = book.results_page()
    for path in book.RESULTS.rglob("*.json"):
        assert f"## {path.relative_to(book.RESULTS).as_posix()}\n" in text
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "bad.json").write_text("{not json")
    rows = [{"model": "A", "key": "a", "seeds": [0, 1], "recall@20": 0.25,
             "recall@20_std": 0.01, "train_seconds": 12.5}]
    (tmp_path / "good.json").write_text(json.dumps({"summary": rows, "runs": rows * 2}))
    text = book.results_page(tmp_path)
    assert "Could not read this file" in text
    assert "| model | recall@20 | train_seconds |" in text
    assert "| A | 0.2500 ± 0.0100 | 12.5 |" in text
    assert "runs" not in text.split("## good.json")[1]  # the summary stands for the runs


def test_mermaid_flowchart_becomes_its_arrows():
    text = '```mermaid\nflowchart LR\n    A["Log<br/>(u, i)"] -->|train only| B["Graph"]\n```'
    out = book.MERMAID.sub(book.mermaid_as_text, text)
    assert "- Log (u, i) → Graph *(train only)*" in out and "mermaid" not in out


def test_figures_are_opaque_whatever_the_rcparams():
    """A transparent figure background would be unreadable on the dark page theme."""
    from PIL import Image

    with matplotlib.rc_context({"figure.facecolor": (1, 1, 1, 0)}):
        fig, ax = plot.new_figure(figsize=(2, 1.5))
        other = plot.Figure(figsize=(2, 1.5))  # not made by new_figure
    for f in (fig, other):
        image = Image.open(io.BytesIO(plot.figure_to_png(f, dpi=20))).convert("RGBA")
        assert image.getpixel((0, 0)) == (255, 255, 255, 255)


# ---------------------------------------------------------------------------------------------
# The checker, tested on doctored sites
# ---------------------------------------------------------------------------------------------


def write_site(folder: Path, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "fig.png").write_bytes(b"png")
    (folder / "other.html").write_text('<html><body><h1 id="top">Other</h1></body></html>')
    (folder / "index.html").write_text(f"<html><body>{body}</body></html>")
    return folder


def test_check_site_passes_a_clean_site(tmp_path):
    site = write_site(tmp_path, '<a href="other.html#top">x</a> <img src="fig.png" alt="a">'
                                ' <span class="math">\\(x\\)</span> <code>$HOME$</code>'
                                ' <a href="https://example.org/missing">out</a>')
    assert book.check_site(site) == []


@pytest.mark.parametrize("body, expected", [
    ('<a href="gone.html">x</a>', "broken link 'gone.html'"),
    ('<a href="other.html#nowhere">x</a>', "no anchor #nowhere"),
    ('<img src="gone.png" alt="a">', "broken image 'gone.png'"),
    ('<img src="fig.png">', "image without alt text"),
    ('<script src="https://cdn.example/mathjax.js"></script>', "from the network"),
    ("<p>the matrix $\\hat A$ stays raw</p>", "math left as text"),
])
def test_check_site_finds_each_problem(tmp_path, body, expected):
    problems = book.check_site(write_site(tmp_path, body))
    assert any(expected in p for p in problems), problems


def test_tiny_book_builds_clean_and_fails_when_doctored(tmp_path):
    """A real build of a one-notebook book: clean; then a figure file removed from the site and
    a broken link in the notebook are caught (the first by the checker, the second by -W)."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    nb = tiny_notebook()
    nb.cells[0].source = nb.cells[0].source.replace(" See the [next](01_next.ipynb).", "")
    nbformat.write(nb, folder / "00_tiny.ipynb")
    html = book.build(tmp_path / "ok", folder=folder)
    assert (html / "00_tiny.html").exists() and book.check_site(html) == []
    page = (html / "00_tiny.html").read_text()
    assert "Two hops from node 0 reach every node." in page  # the alt text
    image = next((html / "_images").glob("*.png"))
    image.unlink()
    assert any("broken image" in p for p in book.check_site(html))

    nbformat.write(tiny_notebook(), folder / "00_tiny.ipynb")  # links to a missing notebook
    with pytest.raises(SystemExit, match="book build failed"):
        book.build(tmp_path / "broken", folder=folder)


# ---------------------------------------------------------------------------------------------
# The built site (make book)
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site() -> Path:
    index = SITE / "index.html"
    if not index.exists():
        _unavailable(f"no built book at {SITE}; run `make book`")
    newest = max(p.stat().st_mtime for p in PAGES + [book.ROOT / "gnnedu" / "book.py"])
    if index.stat().st_mtime < newest:
        _unavailable(f"the book at {SITE} is older than the notebooks; run `make book`")
    return SITE


def test_pages_are_named_after_the_notebooks(site):
    for path in PAGES:
        assert (site / f"{path.stem}.html").exists(), path.name
    for name in ["index", "results", "search"] + [Path(p).stem for p in book.PAGES_MD]:
        assert (site / f"{name}.html").exists(), name


def test_site_has_no_broken_link_image_or_math(site):
    problems = book.check_site(site)
    assert not problems, "\n".join(problems[:30])


def test_launch_buttons_and_download_link(site):
    repo = book.repository_url().removeprefix("https://github.com/")
    for path in PAGES:
        page = (site / f"{path.stem}.html").read_text(encoding="utf-8")
        rel = f"notebooks/{path.name}"
        assert f"https://mybinder.org/v2/gh/{repo}/main?urlpath=lab/tree/{rel}" in page
        assert f"https://colab.research.google.com/github/{repo}/blob/main/{rel}" in page
        assert f'href="_sources/{path.name}"' in page
        # the download is the committed notebook, not the build copy
        assert (site / "_sources" / path.name).read_bytes() == path.read_bytes()


def test_widget_cells_are_static_in_the_site(site):
    for path in PAGES:
        nb = nbformat.read(path, as_version=4)
        assert "widgets" not in nb.metadata, f"{path.name} holds widget state"
        expected = sum(bool(book.widget_outputs(c)) for c in nb.cells if c.cell_type == "code")
        page = (site / f"{path.stem}.html").read_text(encoding="utf-8")
        assert page.count(f"tag_{book.STATIC_WIDGET_TAG}") == expected, path.name
        assert "interactive(children" not in page and book.WIDGET_MIME not in page


def test_figures_in_the_site_are_opaque(site):
    from PIL import Image

    images = sorted((site / "_images").glob("*.png"))
    assert images
    for path in images:
        image = Image.open(path).convert("RGBA")
        w, h = image.size
        corners = [image.getpixel(xy) for xy in [(0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1)]]
        assert all(c[3] == 255 for c in corners), f"{path.name} has a transparent background"


# ---------------------------------------------------------------------------------------------
# The site in headless Chromium
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium_path():
    path = bu.find_chromium()
    if path is None:
        _unavailable("no Chromium found ($GNNEDU_CHROMIUM, /usr/bin/chromium)")
    return path


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def served(site, tmp_path_factory):
    """The site and a doctored copy, served on loopback: base URLs (site, doctored)."""
    doctored = tmp_path_factory.mktemp("doctored") / "html"
    shutil.copytree(site, doctored)
    servers = []
    for root in (site, doctored):
        handler = functools.partial(QuietHandler, directory=str(root))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    yield [f"http://127.0.0.1:{s.server_port}" for s in servers] + [doctored]
    for server in servers:
        server.shutdown()


# What a reader sees: every image loaded, math typeset by MathJax (no $...$, \( or \[ left in
# the visible text outside code), no widget error text. Waits for MathJax to finish first.
JS_PAGE_REPORT = r"""
async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await MathJax.startup.promise;
  }
  const article = document.querySelector('article') || document.body;
  const problems = [];
  for (const img of article.querySelectorAll('img')) {
    if (!img.complete || img.naturalWidth === 0) problems.push('broken image ' + img.src);
  }
  const clone = article.cloneNode(true);
  clone.querySelectorAll('pre, code, script, style, mjx-container, mjx-assistive-mml')
    .forEach((n) => n.remove());
  const text = clone.textContent;
  const raw = text.match(/(^|[^\\$\w])\$[^$\s][^$\n]{0,300}?[^\s\\]\$(?!\w)|\\\(|\\\[/);
  if (raw) problems.push('math left as text: ' + raw[0].slice(0, 60));
  if (article.innerText.includes('Error displaying widget')) {
    problems.push('Error displaying widget');
  }
  return {
    problems,
    cellImages: article.querySelectorAll('.cell_output img').length,
    mathSpans: article.querySelectorAll('.math').length,
    typeset: article.querySelectorAll('mjx-container').length,
  };
}
"""


def page_report(page, url: str) -> dict:
    response = page.goto(url)
    assert response is not None and response.ok, f"{url}: HTTP {response and response.status}"
    report = page.evaluate(JS_PAGE_REPORT)
    if report["mathSpans"] and not report["typeset"]:
        report["problems"].append("MathJax typeset nothing")
    return report


def expected_images(path: Path) -> int:
    """Figures the page must show: the committed notebook's, after the build copy's changes."""
    nb = book.book_copy(path, book._widget_classes())
    return sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code"
               for o in c.get("outputs", []) if "remove-cell" not in c.metadata.get("tags", []))


@pytest.mark.parametrize("path", PAGES, ids=[p.stem for p in PAGES])
def test_notebook_page_in_browser(served, page, path):
    try:
        report = page_report(page, f"{served[0]}/{path.stem}.html")
        assert not report["problems"], report["problems"]
        assert report["cellImages"] == expected_images(path), "figures missing from the page"
    except BaseException:
        bu.save_failure(page, f"book-{path.stem}")
        raise


def test_page_check_catches_a_removed_figure_and_raw_math(served, page):
    """Test the test: a doctored copy of a page (a figure file deleted, raw math, a widget
    error) gets all three problems reported."""
    doctored = served[2]
    path = next(p for p in PAGES if expected_images(p))
    html = doctored / f"{path.stem}.html"
    text = html.read_text(encoding="utf-8")
    first = text.split('src="_images/', 1)[1].split('"', 1)[0]
    (doctored / "_images" / first).unlink()
    start = '<article class="bd-article">'
    assert start in text
    doctoring = "<p>raw $\\hat A$ here</p><p>Error displaying widget: model not found</p>"
    html.write_text(text.replace(start, start + doctoring, 1), encoding="utf-8")
    problems = page_report(page, f"{served[1]}/{path.stem}.html")["problems"]
    for expected in ("broken image", "math left as text", "Error displaying widget"):
        assert any(expected in p for p in problems), (expected, problems)


def test_search_finds_lightgcn(served, page):
    try:
        page.goto(f"{served[0]}/search.html?q=LightGCN")
        hits = page.locator("#search-results ul.search li a")
        hits.first.wait_for(timeout=30_000)
        targets = hits.evaluate_all("(links) => links.map((a) => a.getAttribute('href'))")
        assert any(t.startswith(("07_", "08_")) for t in targets), targets
    except BaseException:
        bu.save_failure(page, "book-search")
        raise


# Draw text on a canvas in the page's font and compare with a private-use character, which no
# font draws (a box or nothing): a CJK term drawn like it means its characters are missing.
JS_GLYPHS_DRAWN = """
(text) => {
  const font = getComputedStyle(document.querySelector('article')).fontFamily;
  const draw = (s) => {
    const c = document.createElement('canvas');
    c.width = 400; c.height = 60;
    const ctx = c.getContext('2d');
    ctx.font = '32px ' + font;
    ctx.fillText(s, 4, 44);
    return c.toDataURL();
  };
  const missing = draw('\\ue000'.repeat(text.length));
  return draw(text) !== missing && draw(text) !== draw('');
}
"""


def test_glossary_renders_its_chinese(served, page):
    try:
        page.goto(f"{served[0]}/glossary.html")
        title = page.locator("article h1").first.inner_text()
        chinese = "".join(ch for ch in title if "\u4e00" <= ch <= "\u9fff")
        assert chinese, f"no Chinese in the glossary title {title!r}"
        assert page.locator("article").inner_text().count("\u56fe") > 0  # 图 (graph) in the table
        assert page.evaluate(JS_GLYPHS_DRAWN, chinese), "the Chinese characters draw as boxes"
    except BaseException:
        bu.save_failure(page, "book-glossary")
        raise
