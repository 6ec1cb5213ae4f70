"""The collection as a static book: HTML pages built from the committed, executed notebooks.

    python -m gnnedu.book build              # _build/book/html/index.html (about a minute)
    python -m gnnedu.book build --execute    # re-execute a copy of every notebook first
    python -m gnnedu.book colab-cell notebooks/*.ipynb          # insert/update the Colab cell
    python -m gnnedu.book colab-cell --check notebooks/*.ipynb  # exit 1 if one is missing/stale

The tool is Sphinx with MyST-NB and the sphinx-book-theme (the engine of Jupyter Book 1, used
directly): pure Python from PyPI, launch buttons and a download button per notebook page, offline
search, and warnings that can fail the build. The build never touches ``notebooks/``: it writes a
*build copy* of every page to ``_build/book/src`` and changes only that copy:

* every figure gets alt text, the first paragraph of the Markdown cell that follows it (the
  notebook's caption);
* every widget output (a live view that needs a kernel) becomes a static figure of the widget's
  default drawing with a caption that says what its controls do and how to run it live: the
  exact first drawing from the saved widget state when the copy was executed (``--execute``),
  otherwise the same drawing made earlier in the notebook by the plain call;
* the Colab set-up cell is hidden; ``<a id="x"></a>`` anchors become MyST targets; a Mermaid
  flowchart becomes the list of its arrows.

MathJax is served from the build (the ``sphinx-mathjax-offline`` package), so pages render math
with no network. The repository address for the launch buttons is ``[project.urls] Repository``
in ``pyproject.toml``: the one setting to change when the repository moves.
"""

from __future__ import annotations

import argparse
import builtins
import copy
import importlib
import inspect
import json
import re
import shutil
import sys
import time
import tomllib
from html.parser import HTMLParser
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
RESULTS = Path(__file__).resolve().parent / "results"
BUILD = ROOT / "_build" / "book"
PAGES_MD = ["notation.md", "references.md", "cheatsheet.md", "instructor_notes.md"]
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE_MIME = "application/vnd.jupyter.widget-state+json"
COLAB_TAG = "gnnedu-colab-setup"      # marks the Colab cell in a notebook
STATIC_WIDGET_TAG = "gnnedu-widget-static"  # marks a widget cell in the build copy (CSS class)
TITLE = re.compile(r"^#\s+(\d\d)\s*·\s*(.+?)\s*$", re.MULTILINE)


# ---------------------------------------------------------------------------------------------
# The one repository setting
# ---------------------------------------------------------------------------------------------


def repository_url() -> str:
    """``[project.urls] Repository`` of pyproject.toml: launch buttons and Colab cells use it."""
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]["urls"]["Repository"].rstrip("/")


# ---------------------------------------------------------------------------------------------
# The Colab cell (inserted into the committed notebooks by `colab-cell`, hidden in the book)
# ---------------------------------------------------------------------------------------------

COLAB_SOURCE = """\
# Colab only: fetch the repository, install gnnedu and work in its notebooks/ folder (where the
# exercise solutions live). Anywhere else this cell does nothing and prints nothing.
import sys

if "google.colab" in sys.modules:
    import os
    import subprocess

    repo = "{url}"  # [project.urls] Repository in pyproject.toml
    if not os.path.isdir("/content/gnnedu"):
        subprocess.run(["git", "clone", "--depth", "1", repo, "/content/gnnedu"], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", "/content/gnnedu"],
                   check=True)
    sys.path[:0] = ["/content/gnnedu", "/content/gnnedu/notebooks"]
    os.chdir("/content/gnnedu/notebooks")"""


def colab_cell_source(url: str | None = None) -> str:
    return COLAB_SOURCE.replace("{url}", url or repository_url() + ".git")


def add_colab_cell(nb: nbformat.NotebookNode, url: str | None = None) -> bool:
    """Insert (after the title cell) or update the Colab cell; True when ``nb`` changed."""
    source = colab_cell_source(url)
    for cell in nb.cells:
        if COLAB_TAG in cell.metadata.get("tags", []):
            if cell.source == source:
                return False
            cell.source = source
            return True
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": [COLAB_TAG]})
    cell.pop("id", None)  # nbformat < 4.5 notebooks have no cell ids
    if nb.nbformat_minor >= 5:
        cell["id"] = "colab-setup"
    # After the title cell: docs.py reads the notebook map from the first cell.
    nb.cells.insert(1 if nb.cells and nb.cells[0].cell_type == "markdown" else 0, cell)
    return True


# ---------------------------------------------------------------------------------------------
# Build copy: alt text, static widgets, anchors
# ---------------------------------------------------------------------------------------------


def plain_text(markdown: str, limit: int = 400) -> str:
    """The first paragraph of ``markdown`` as plain text (for an alt attribute)."""
    para = markdown.strip().split("\n\n")[0]
    para = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", para)   # links and images: their text
    para = re.sub(r"[*_`#>]|\$", "", para)                  # emphasis, code, headings, math
    para = " ".join(para.split())
    return para if len(para) <= limit else para[: limit - 3].rstrip() + "..."


def has_image(cell) -> bool:
    return any("image/png" in o.get("data", {}) for o in cell.get("outputs", []))


def caption_after(cells, index: int) -> str | None:
    """The first paragraph of the Markdown cell right after cell ``index``, if any."""
    following = cells[index + 1] if index + 1 < len(cells) else None
    if following is not None and following.cell_type == "markdown" and following.source.strip():
        return plain_text(following.source)
    return None


def add_alt_text(nb: nbformat.NotebookNode, name: str) -> None:
    """Give every figure alt text: its caption, else a description of the cell that drew it."""
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not has_image(cell):
            continue
        alt = caption_after(nb.cells, i)
        if not alt:
            first = next((ln for ln in cell.source.splitlines() if ln.strip()), "")
            alt = f"Figure of {name}, drawn by: {first.strip()}"
        cell.metadata.setdefault("mystnb", {}).setdefault("image", {})["alt"] = alt


def widget_outputs(cell) -> list[dict]:
    return [o for o in cell.get("outputs", []) if WIDGET_MIME in o.get("data", {})]


def _widget_classes() -> dict[str, type]:
    """Every explorer class of ``gnnedu.widgets``, by name."""
    import pkgutil

    import gnnedu.widgets as package

    found = {}
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"gnnedu.widgets.{info.name}")
        for name, obj in vars(module).items():
            if inspect.isclass(obj) and obj.__module__ == module.__name__:
                found[name] = obj
    return found


CONTROL = re.compile(r"``(\w+)``\s*\((\w+)(?:\s+\"([^\"]+)\")?")


def describe_widget(source: str, classes: dict[str, type]) -> tuple[str, list[str], set[str]]:
    """What a widget cell shows: (summary, control names, names of the functions it draws with).

    An explorer of ``gnnedu.widgets`` is described by its docstring (summary, controls) and
    draws with the ``draw_*`` functions its source calls; an ``interact`` cell by its sliders'
    descriptions and the plain functions it calls.
    """
    called = re.findall(r"(?<![\w.])(?:\w+\.)?(\w+)\s*\(", source)
    for name in called:
        cls = classes.get(name)
        if cls is not None and inspect.getdoc(cls):
            doc = inspect.getdoc(cls)
            summary = " ".join(doc.split("\n\n")[0].split())
            summary = re.sub(r":\w+:`~?([^`]+)`", r"`\1`", summary).replace("``", "`")
            controls = [label or attr for attr, _kind, label in CONTROL.findall(doc)]
            draws = set(re.findall(r"\b(draw_\w+)\(", inspect.getsource(cls)))
            return summary, controls, draws
    controls = re.findall(r"description=[\"']([^\"']+)[\"']", source)
    plain = {n for n in called if n not in vars(builtins) and not n[:1].isupper()}
    plain -= {"interact", "interactive", "interact_manual", "display"}
    return "The function above, behind controls.", controls, plain


def default_drawing(nb, index: int, names: set[str]) -> tuple[list[dict], int | None]:
    """Outputs of the nearest earlier cell that calls one of ``names``: the plain call the
    notebook makes before its widget (images preferred, else printed text)."""
    for j in range(index - 1, -1, -1):
        cell = nb.cells[j]
        if cell.cell_type != "code" or not cell.get("outputs"):
            continue
        if any(re.search(rf"\b{re.escape(n)}\s*\(", cell.source) for n in names):
            keep = [o for o in cell.outputs if "image/png" in o.get("data", {})]
            keep = keep or [o for o in cell.outputs if o.output_type == "stream"]
            if keep:
                return copy.deepcopy(keep), j
    return [], None


def state_drawing(nb, model_id: str) -> list[dict]:
    """The first image (or printed text) inside widget ``model_id`` in the notebook's saved
    widget state: what the widget showed when the copy was executed."""
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE_MIME, {}).get("state", {})
    todo, seen = [model_id], set()
    texts = []
    while todo:
        mid = todo.pop(0)
        if mid in seen or mid not in state:
            continue
        seen.add(mid)
        model = state[mid]
        values = model.get("state", {})
        if model.get("model_name") == "ImageModel":
            for buf in model.get("buffers", []):
                if buf.get("path") == ["value"]:
                    return [nbformat.v4.new_output("display_data", data={"image/png": buf["data"]})]
        for out in values.get("outputs", []):
            if "image/png" in out.get("data", {}):
                return [nbformat.from_dict(out)]
            if out.get("output_type") == "stream":
                texts.append(nbformat.from_dict(out))
        children = values.get("children", [])
        todo += [c[len("IPY_MODEL_"):] for c in children if isinstance(c, str)]
    return texts


def static_caption(summary: str, controls: list[str], source_cell: int | None,
                   from_state: bool) -> str:
    """Markdown under a widget's static view: what it is, what the controls do, how to go live."""
    if from_state:
        what = "Above: the widget's first drawing, saved when this page was built."
    elif source_cell is not None:
        what = ("Above: the drawing the notebook makes earlier with the same function (the plain "
                "call before the widget), which the widget redraws as its controls move.")
    else:
        what = "This static page cannot show it."
    moves = ""
    if controls:
        moves = (" Moving a control (" + ", ".join(f"*{c}*" for c in controls)
                 + ") redraws the output for that choice.")
    return (f"**Interactive widget (needs a live Python kernel).** {summary}{moves} {what} "
            "To move the controls, open this notebook with the Binder or Colab button at the "
            "top of the page, or run `make lab` in a clone of the repository.")


def make_widgets_static(nb: nbformat.NotebookNode, classes: dict[str, type]) -> int:
    """Replace every widget output by a static drawing and a caption; returns how many."""
    count = 0
    for i, cell in enumerate(nb.cells):
        views = widget_outputs(cell) if cell.cell_type == "code" else []
        if not views:
            continue
        summary, controls, names = describe_widget(cell.source, classes)
        drawing = state_drawing(nb, views[0]["data"][WIDGET_MIME]["model_id"])
        from_state, source_cell = bool(drawing), None
        if not drawing:
            drawing, source_cell = default_drawing(nb, i, names)
        caption = static_caption(summary, controls, source_cell, from_state)
        others = [o for o in cell.outputs if o not in views]  # printed text, say
        cell.outputs = drawing + others + [
            nbformat.v4.new_output("display_data", data={"text/markdown": caption})]
        tags = cell.metadata.setdefault("tags", [])
        tags.append(STATIC_WIDGET_TAG)
        if has_image(cell):
            alt = "Static view of the widget: " + plain_text(caption, limit=300)
            cell.metadata.setdefault("mystnb", {}).setdefault("image", {})["alt"] = alt
        count += 1
    return count


def hide_colab_cell(nb: nbformat.NotebookNode) -> None:
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if COLAB_TAG in tags and "remove-cell" not in tags:
            tags.append("remove-cell")


ANCHOR = re.compile(r'<a id="([\w-]+)"></a>')


def myst_anchors(text: str) -> str:
    """``<a id="x"></a>`` (an HTML anchor Sphinx cannot see) -> ``[]{#x}`` (a MyST target)."""
    return ANCHOR.sub(r"[]{#\1}", text)


MERMAID = re.compile(r"```mermaid\n(.*?)```", re.DOTALL)
NODE = r"(\w+)(?:\[\"?(.*?)\"?\])?"
EDGE = re.compile(rf"^\s*{NODE}\s*-->\s*(?:\|\"?(.*?)\"?\|\s*)?{NODE}\s*$")


def mermaid_as_text(match: re.Match) -> str:
    """A Mermaid flowchart (JupyterLab draws it; a static page has no Mermaid) as a list of
    its arrows; any other diagram as its source in a code block."""
    labels: dict[str, str] = {}
    edges = []
    for line in match.group(1).splitlines():
        edge = EDGE.match(line)
        if edge:
            a, a_label, how, b, b_label = edge.groups()
            labels.setdefault(a, a_label or a)
            labels.setdefault(b, b_label or b)
            edges.append((a, b, how))
    if not edges:
        return "```text\n" + match.group(1) + "```"

    def clean(text: str) -> str:
        return " ".join(re.sub(r"<br\s*/?>", " ", text).split())

    items = [f"- {clean(labels[a])} → {clean(labels[b])}" + (f" *({clean(how)})*" if how else "")
             for a, b, how in edges]
    return ("*A flowchart (JupyterLab draws it; here are its arrows):*\n\n" + "\n".join(items))


def book_copy(path: Path, classes: dict[str, type]) -> nbformat.NotebookNode:
    """The build copy of one notebook (the committed file is only read)."""
    nb = nbformat.read(path, as_version=4)
    make_widgets_static(nb, classes)
    add_alt_text(nb, path.stem)
    hide_colab_cell(nb)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = MERMAID.sub(mermaid_as_text, myst_anchors(cell.source))
    return nb


# ---------------------------------------------------------------------------------------------
# Generated pages: landing page and results
# ---------------------------------------------------------------------------------------------


def notebook_title(nb) -> tuple[str, str]:
    first = nb.cells[0].source if nb.cells else ""
    match = TITLE.search(first)
    if match:
        return match.groups()
    heading = re.search(r"^#\s+(.+)$", first, re.MULTILINE)
    return "", heading.group(1).strip() if heading else "Untitled"


def estimated_time(nb) -> tuple[str, str]:
    """("50 min", "90 min"): time in class and on one's own, from the title cell."""
    first = nb.cells[0].source if nb.cells else ""
    block = re.search(r"Estimated time[^\n]*(?:\n[^\n]+)*", first)
    text = " ".join(block.group(0).split()) if block else ""
    in_class = re.search(r"(\d+) minutes in class", text)
    alone = re.search(r"(\d+) minutes on your own", text)
    return (f"{in_class.group(1)} min" if in_class else "-",
            f"{alone.group(1)} min" if alone else "-")


def numbered_notebooks(folder: Path = NOTEBOOKS) -> list[Path]:
    return sorted(folder.glob("[0-9][0-9]_*.ipynb"))


REFERENCE_PAGES = {  # docname: how the landing page names it
    "glossary": "the [glossary](glossary.ipynb) (with the source article's Chinese terms)",
    "notation": "the [notation](notation.md)",
    "cheatsheet": "the [cheat sheet](cheatsheet.md)",
    "references": "the [references](references.md)",
    "instructor_notes": "the [instructor notes](instructor_notes.md) for teachers",
    "results": "the [results](results.md) behind the notebooks' tables",
}


def landing_page(notebooks: list[Path], pages_md: list[str], glossary: bool = True) -> str:
    """index.md: what this is, who it is for, the notebook map with times, how to run it."""
    rows = ["| # | Notebook | in class | on your own |", "|---|---|---:|---:|"]
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        number, title = notebook_title(nb)
        in_class, alone = estimated_time(nb)
        rows.append(f"| {number} | [{title}]({path.name}) | {in_class} | {alone} |")
    present = {Path(name).stem for name in pages_md} | {"results"}
    if glossary:
        present.add("glossary")
    reference = [doc for doc in REFERENCE_PAGES if doc in present]
    also = ", ".join(REFERENCE_PAGES[doc] for doc in reference)
    toc = "\n".join(p.stem for p in notebooks)
    url = repository_url()
    return f"""# gnnedu: graph neural networks for recommendation

A notebook collection that goes from a graph convolution worked by hand to GCN recommendation
on MovieLens-100K, then to where graphs earn their keep (new items, new users, sparse data) and
rating prediction with a graph autoencoder. Every page here is a notebook as it was executed,
outputs included; a small package, `gnnedu`, holds the code the notebooks teach and then import.

**Who it is for.** Learners who know Python, NumPy and a little linear algebra and want to
understand graph neural networks for recommendation from the first multiplication on, and
teachers who walk a class through it.

**Reading without a kernel.** This book is static: figures, tables and math are here, and
each widget shows its default drawing with a caption. To run a notebook, use the launch
buttons at the top of its page (Binder builds the repository's `environment.yml`; Colab runs
the notebook's first code cell, which installs `gnnedu` there), or download it.

## The notebooks

Run them in order; times are estimates from each notebook's introduction.

{chr(10).join(rows)}

Also: {also}.

## Run it on your machine

You need Python 3.11 and `make`:

```bash
git clone {url}.git gnnedu && cd gnnedu
make lab     # creates .venv, installs gnnedu, finds the data, starts JupyterLab on notebooks/
make test    # unit tests, widget tests, the browser checks and nbval over every notebook
make book    # this book, in _build/book/html/
```

```{{toctree}}
:hidden:
:caption: Notebooks

{toc}
```

```{{toctree}}
:hidden:
:caption: Reference

{chr(10).join(reference)}
```
"""


# Columns shown first when a results table has them; others follow up to MAX_METRICS.
HEADLINE = ["recall@20", "ndcg@20", "recall@10", "ndcg@10", "precision@10", "rmse", "mae",
            "test_acc", "val_acc", "val_recall@20", "val_rmse", "train_seconds"]
MAX_METRICS = 6
MAX_ROWS = 40
LABELS = ["model", "key", "id", "split", "view", "group", "density", "k", "epoch"]


def _scalar(value) -> bool:
    return isinstance(value, (str, int, float, bool)) or value is None


def _fmt(value) -> str:
    """Floats with 4 decimals (3 significant digits past 10), other values as text."""
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value).replace("|", "\\|")


def records_table(rows: list[dict]) -> str:
    """A Markdown table of ``rows``: label columns, then up to MAX_METRICS number columns
    (``mean ± std`` where a ``<name>_std`` column exists); longer lists are cut to MAX_ROWS."""
    keys = [k for k in rows[0] if all(_scalar(r.get(k)) for r in rows)]
    labels = [k for k in LABELS if k in keys]
    if "model" in labels and "key" in labels:  # the key is the model's short name
        labels.remove("key")
    numbers = [k for k in keys if k not in labels and not k.endswith("_std") and k != "seed"
               and all(isinstance(r.get(k), (int, float)) for r in rows)]
    numbers = sorted(numbers, key=lambda k: HEADLINE.index(k) if k in HEADLINE else 99)
    numbers = numbers[:MAX_METRICS]
    if "seed" in keys and "seed" not in labels:
        labels.append("seed")
    columns = labels + numbers
    if not columns:
        return ""
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows[:MAX_ROWS]:
        cells = []
        for k in columns:
            std = row.get(f"{k}_std")
            cell = _fmt(row.get(k))
            cells.append(f"{cell} ± {_fmt(std)}" if isinstance(std, (int, float)) else cell)
        lines.append("| " + " | ".join(cells) + " |")
    if len(rows) > MAX_ROWS:
        lines.append(f"\n*{len(rows) - MAX_ROWS} more rows in the file.*")
    return "\n".join(lines)


def mapping_table(data: dict) -> str:
    """A two-column table of a dict's scalar entries (nested dicts flattened one level)."""
    lines = ["| setting | value |", "|---|---|"]
    for key, value in data.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}={_fmt(v)}" for k, v in value.items() if _scalar(v))
        elif isinstance(value, list) and all(_scalar(v) for v in value):
            value = ", ".join(_fmt(v) for v in value)
        if _scalar(value):
            lines.append(f"| {key} | {_fmt(value)} |")
    return "\n".join(lines) if len(lines) > 2 else ""


def results_section(path: Path, folder: Path = RESULTS) -> str:
    """One results file as Markdown: its command, settings and tables (summary before runs)."""
    rel = path.relative_to(folder).as_posix()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return f"## {rel}\n\nCould not read this file: {exc}\n"
    parts = [f"## {rel}"]
    if not isinstance(data, dict):
        data = {"values": data}
    if isinstance(data.get("command"), str):
        parts.append(f"Written by `{data['command']}`.")
    lists = {k: v for k, v in data.items()
             if isinstance(v, list) and v and all(isinstance(r, dict) for r in v)}
    if "summary" in lists:  # the runs are summarised there
        lists.pop("runs", None)
    for key, rows in lists.items():
        table = records_table(rows)
        if table:
            parts.append(f"**{key}** ({len(rows)} rows)\n\n{table}")
    for key, value in data.items():
        if key in ("environment", "machine") or not isinstance(value, dict) or not value:
            continue
        table = mapping_table(value)
        if table:
            parts.append(f"**{key}**\n\n{table}")
    return "\n\n".join(parts) + "\n"


# Results files in reading order (the headline tables first); others follow by path.
RESULTS_ORDER = ["p1.json", "rating/folds.json", "sweeps/", "coldstart/", "cora/", "gowalla/",
                 "rating/"]


def _results_rank(path: Path, folder: Path) -> tuple[int, str]:
    rel = path.relative_to(folder).as_posix()
    ranks = [i for i, prefix in enumerate(RESULTS_ORDER) if rel.startswith(prefix)]
    return (ranks[0] if ranks else len(RESULTS_ORDER), rel)


def results_page(folder: Path = RESULTS) -> str:
    files = sorted(folder.rglob("*.json"), key=lambda p: _results_rank(p, folder))
    body = "\n".join(results_section(p, folder) for p in files) or "No results files yet.\n"
    return f"""# Results

Every results file in `gnnedu/results/` ({len(files)} files), as written by the commands that
made them: a summary table (mean ± std over seeds) where the file has one, else its runs, and
the settings. The notebooks read these files; the README's tables come from the same data.
Numbers are rounded to four decimals.

{body}"""


# ---------------------------------------------------------------------------------------------
# Sphinx configuration and the build
# ---------------------------------------------------------------------------------------------


def mathjax_folder() -> Path:
    """MathJax 3 as shipped by the sphinx-mathjax-offline package (served from the build)."""
    return Path(metadata.distribution("sphinx-mathjax-offline").locate_file(
        "sphinx-mathjax-offline/static/mathjax"))


def sphinx_config() -> dict:
    """The whole Sphinx configuration (the generated conf.py only imports this)."""
    url = repository_url()
    return {
        "project": "gnnedu",
        "author": "gnnedu contributors",
        "copyright": "gnnedu contributors",
        "extensions": ["myst_nb"],
        "exclude_patterns": ["solutions", "**.ipynb_checkpoints", "_build"],
        "myst_enable_extensions": ["dollarmath", "amsmath", "attrs_inline", "colon_fence"],
        "myst_heading_anchors": 3,
        "nb_execution_mode": "off",              # outputs come from the committed notebooks
        "nb_render_markdown_format": "myst",     # Markdown outputs (the glossary table) in MyST
        "nb_output_stderr": "show",
        "nb_ipywidgets_js": {},                  # no widget JS from a CDN: widgets are static
        "html_theme": "sphinx_book_theme",
        "html_title": "gnnedu",
        "html_static_path": ["_static"],
        "html_css_files": ["gnnedu-book.css"],
        "html_last_updated_fmt": None,
        "mathjax_path": "mathjax/tex-chtml.js",  # copied into _static by build()
        "html_theme_options": {
            "repository_url": url,
            "repository_branch": "main",
            "path_to_docs": "notebooks",
            "use_repository_button": True,
            "use_download_button": True,
            "launch_buttons": {
                "binderhub_url": "https://mybinder.org",
                "colab_url": "https://colab.research.google.com",
                "notebook_interface": "jupyterlab",
            },
        },
        "suppress_warnings": [],
    }


CSS = """\
/* Figures keep their own white background in the dark theme, with a little margin. */
html[data-theme="dark"] .cell_output img { background: #fff; padding: 4px; border-radius: 4px; }
.tag_gnnedu-widget-static .cell_output { border-left: 4px solid #E69F00; padding-left: 0.6em; }
"""

CONF_PY = "from gnnedu.book import sphinx_config\n\nglobals().update(sphinx_config())\n"


def write_sources(src: Path, execute: bool = False, folder: Path = NOTEBOOKS) -> list[str]:
    """Fill ``src`` with the build copy of every page of ``folder``; returns the notebooks."""
    if src.exists():
        shutil.rmtree(src)
    src.mkdir(parents=True)
    notebooks = numbered_notebooks(folder)
    pages = notebooks + [p for p in [folder / "glossary.ipynb"] if p.exists()]
    if execute and (folder / "solutions").is_dir():
        shutil.copytree(folder / "solutions", src / "solutions",
                        ignore=shutil.ignore_patterns("__pycache__"))
    classes = _widget_classes()
    for path in pages:
        if execute:
            executed = execute_copy(path, src)
            nb = book_copy(executed, classes)
        else:
            nb = book_copy(path, classes)
        nbformat.write(nb, src / path.name)
    pages_md = [name for name in PAGES_MD if (folder / name).exists()]
    for name in pages_md:
        text = (folder / name).read_text(encoding="utf-8")
        (src / name).write_text(myst_anchors(text), encoding="utf-8")
    glossary = (folder / "glossary.ipynb").exists()
    (src / "index.md").write_text(landing_page(notebooks, pages_md, glossary), encoding="utf-8")
    (src / "results.md").write_text(results_page(), encoding="utf-8")
    (src / "conf.py").write_text(CONF_PY, encoding="utf-8")
    static = src / "_static"
    static.mkdir()
    (static / "gnnedu-book.css").write_text(CSS, encoding="utf-8")
    return [p.name for p in pages]


def execute_copy(path: Path, src: Path) -> Path:
    """Execute a copy of ``path`` in ``src`` (widget state kept) and return the copy's path."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=1800, kernel_name="python3",
                            resources={"metadata": {"path": str(src)}}, store_widget_state=True)
    client.execute()
    out = src / f"_executed_{path.name}"
    nbformat.write(nb, out)
    return out


def copy_originals(html: Path, names: list[str], folder: Path = NOTEBOOKS) -> None:
    """The download button serves ``_sources/NAME``: make it the committed notebook."""
    for name in names:
        target = html / "_sources" / name
        if target.parent.exists():
            shutil.copy2(folder / name, target)


def build(out: Path = BUILD, execute: bool = False, jobs: str = "1",
          folder: Path = NOTEBOOKS) -> Path:
    """Build the book of ``folder`` into ``out/html``; a warning fails the build (SystemExit).
    Returns the HTML folder."""
    from sphinx.cmd.build import build_main

    src, html = out / "src", out / "html"
    started = time.perf_counter()
    names = write_sources(src, execute, folder)
    if execute:
        for extra in src.glob("_executed_*.ipynb"):
            extra.unlink()
    if html.exists():
        shutil.rmtree(html)
    args = ["-b", "html", "-W", "--keep-going", "-q", "-j", jobs,
            "-d", str(out / "doctrees"), str(src), str(html)]
    status = build_main(args)
    if status != 0:
        raise SystemExit(f"book build failed (sphinx exit {status}); see the warnings above")
    shutil.copytree(mathjax_folder(), html / "_static" / "mathjax",
                    ignore=shutil.ignore_patterns("sre", "*speech*", "svg", "tex-svg*",
                                                  "mml-*", "tex-mml-*"))
    copy_originals(html, names, folder)
    print(f"book: {len(names)} notebooks in {html} ({time.perf_counter() - started:.0f} s); "
          f"open {html / 'index.html'}")
    return html


# ---------------------------------------------------------------------------------------------
# Checking the built site (no network): links, anchors, images, alt text, assets, raw math
# ---------------------------------------------------------------------------------------------

RAW_MATH = re.compile(r"(?<![\\$\w])\$[^$\s][^$\n]{0,300}?(?<!\s)\$(?!\w)")
SKIP_TEXT = {"pre", "code", "script", "style", "textarea"}


class PageParser(HTMLParser):
    """Collects what the checks need from one HTML page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.images: list[tuple[str, str | None]] = []
        self.assets: list[str] = []
        self.text: list[str] = []
        self._skip = 0  # depth inside code, scripts and rendered-math spans

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("id", "name"):
            if a.get(key) and (key == "id" or tag == "a"):
                self.ids.add(a[key])
        if tag == "a" and a.get("href") is not None:
            self.links.append(a["href"])
        elif tag == "img":
            self.images.append((a.get("src") or "", a.get("alt")))
        elif tag == "script" and a.get("src"):
            self.assets.append(a["src"])
        elif tag == "link" and "stylesheet" in (a.get("rel") or "") and a.get("href"):
            self.assets.append(a["href"])
        if tag in SKIP_TEXT or "math" in (a.get("class") or "").split() or self._skip:
            if tag not in VOID:
                self._skip += 1

    def handle_endtag(self, tag):
        if self._skip and tag not in VOID:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.text.append(data)


VOID = {"img", "br", "hr", "meta", "link", "input", "source", "wbr", "area", "base", "col"}


def parse_page(path: Path) -> PageParser:
    parser = PageParser()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def _local_target(page: Path, url: str) -> tuple[Path | None, str]:
    """(file, fragment) of a relative URL; file None for an external or data URL."""
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        return None, ""
    target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
    return target, unquote(parts.fragment)


def check_site(html: Path) -> list[str]:
    """Problems of the built site: broken links and anchors, missing or alt-less images,
    scripts or styles from the network, and ``$...$`` math left as text. Empty when clean."""
    html = Path(html).resolve()
    pages = {p.resolve(): parse_page(p) for p in html.rglob("*.html")
             if "_static" not in p.relative_to(html).parts}
    problems = []
    for page, info in sorted(pages.items()):
        name = page.relative_to(html).as_posix()
        for url in info.links:
            target, fragment = _local_target(page, url)
            if target is None:
                continue  # external: not checked (no network)
            if not target.exists():
                problems.append(f"{name}: broken link {url!r}")
            elif fragment and target in pages and fragment not in pages[target].ids:
                problems.append(f"{name}: link {url!r}: no anchor #{fragment}")
        for src, alt in info.images:
            if src.startswith("data:"):
                pass
            elif _local_target(page, src)[0] is None:
                problems.append(f"{name}: image from the network {src!r}")
            elif not _local_target(page, src)[0].exists():
                problems.append(f"{name}: broken image {src!r}")
            if not (alt or "").strip():
                problems.append(f"{name}: image without alt text {src[:60]!r}")
        for url in info.assets:
            target, _ = _local_target(page, url)
            if target is None:
                problems.append(f"{name}: loads {url!r} from the network")
            elif not target.exists():
                problems.append(f"{name}: missing asset {url!r}")
        for raw in RAW_MATH.findall(" ".join(info.text)):
            problems.append(f"{name}: math left as text {raw[:60]!r}")
    return problems


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------


def colab_cell_command(paths: list[Path], check: bool) -> int:
    stale = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        if add_colab_cell(nb):
            stale.append(path)
            if not check:
                nbformat.write(nb, path)
    verb = "missing or stale in" if check else "inserted or updated in"
    print(f"Colab cell {verb} {len(stale)} of {len(paths)} notebooks")
    for path in stale:
        print(f"  {path}")
    return 1 if check and stale else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gnnedu.book", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build the static book into _build/book/html")
    b.add_argument("--execute", action="store_true", help="re-execute a copy of each notebook")
    b.add_argument("--out", type=Path, default=BUILD)
    b.add_argument("--jobs", default="1", help="sphinx -j (default 1; 'auto' for all cores)")
    k = sub.add_parser("check", help="check the built site's links, images and math")
    k.add_argument("--html", type=Path, default=BUILD / "html")
    c = sub.add_parser("colab-cell", help="insert or update the Colab set-up cell")
    c.add_argument("paths", nargs="+", type=Path)
    c.add_argument("--check", action="store_true", help="change nothing; exit 1 if stale")
    args = parser.parse_args(argv)
    if args.command == "build":
        build(args.out, args.execute, args.jobs)
        return 0
    if args.command == "check":
        problems = check_site(args.html)
        print("\n".join(problems) or f"{args.html}: no broken link, image or math")
        return 1 if problems else 0
    return colab_cell_command(args.paths, args.check)


if __name__ == "__main__":
    sys.exit(main())
