"""Real-browser check of the widget notebooks (JupyterLab + headless Debian Chromium).

For every notebook that uses widgets: start JupyterLab on loopback, open a temporary copy in
headless Chromium (playwright-python with ``executable_path``), run all cells, assert that every
widget view rendered without "Error displaying widget", then move a control of each widget and
assert that the visible output changed. Screenshots of a failure go to ``$GNNEDU_ARTIFACTS``
(default ``test-artifacts/browser/``). Without Chromium the tests skip, unless
``GNNEDU_REQUIRE_BROWSER=1`` makes them fail.
"""

from __future__ import annotations

import os
from pathlib import Path

import browser_util as bu
import nbformat
import pytest

RUN_TIMEOUT_S = float(os.environ.get("GNNEDU_BROWSER_TIMEOUT", "300"))
WIDGET_NOTEBOOKS = bu.widget_notebooks()

pytestmark = pytest.mark.browser


def _unavailable(reason: str):
    if os.environ.get("GNNEDU_REQUIRE_BROWSER") == "1":
        pytest.fail(f"GNNEDU_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def chromium_path():
    path = bu.find_chromium()
    if path is None:
        _unavailable(
            "no Chromium found ($GNNEDU_CHROMIUM, /usr/bin/chromium); "
            "install Debian's package: apt-get install -y chromium"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _unavailable("playwright-python is not installed (pip install -e .[dev])")
    return path


@pytest.fixture(scope="module")
def lab(chromium_path, tmp_path_factory):
    """JupyterLab serving a temporary copy of notebooks/ (outputs stripped)."""
    work = tmp_path_factory.mktemp("jupyterlab")
    root = bu.copy_notebooks(bu.NOTEBOOKS, work / "root")
    server = bu.LabServer(root, work)
    server.start()
    yield server
    server.stop()


def check_notebook(page, lab, name: str) -> list[str]:
    """Run ``name`` in the browser and check its widgets; return one line per widget cell."""
    lines = []
    try:
        cells = bu.open_and_run_all(page, lab, name, RUN_TIMEOUT_S)
        for index in bu.assert_widgets_rendered(page, name, cells):
            moved = bu.assert_controls_respond(page, name, index)
            lines.append(f"{name} cell {index}: " + (moved or "rendered (no control)"))
        assert any("no control" not in line for line in lines), (
            f"{name}: no widget with a control that changes the output"
        )
    except BaseException:
        bu.save_failure(page, Path(name).stem)
        raise
    finally:
        try:
            bu.shutdown_kernel(page)
        except Exception:
            pass
    print("\n".join(lines))
    return lines


def smoke_notebook() -> nbformat.NotebookNode:
    """A tiny notebook with the three kinds of control the harness moves."""
    setup = (
        "import ipywidgets as widgets\n"
        "import matplotlib.pyplot as plt\n"
        "from IPython.display import display"
    )
    slider_cell = (
        "power = widgets.IntSlider(value=1, min=1, max=4, description='power')\n"
        "out = widgets.Output()\n"
        "\n"
        "def redraw(change=None):\n"
        "    with out:\n"
        "        out.clear_output(wait=True)\n"
        "        fig, ax = plt.subplots(figsize=(3, 2))\n"
        "        ax.plot(range(6), [x ** power.value for x in range(6)])\n"
        "        ax.set_title(f'x ** {power.value}')\n"
        "        plt.show()\n"
        "\n"
        "power.observe(redraw, names='value')\n"
        "redraw()\n"
        "display(widgets.VBox([power, out]))"
    )
    dropdown_cell = (
        "widgets.interact(lambda colour: print('colour is', colour),"
        " colour=['red', 'green', 'blue']);"
    )
    checkbox_cell = "widgets.interact(lambda flag: print('flag is', flag), flag=False);"
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Browser harness smoke test"),
        nbformat.v4.new_code_cell(setup),
        nbformat.v4.new_code_cell(slider_cell),
        nbformat.v4.new_code_cell(dropdown_cell),
        nbformat.v4.new_code_cell(checkbox_cell),
    ]
    return nb


def test_widget_detection(tmp_path):
    """The notebook scan finds widget notebooks and only those (no browser needed)."""
    with_widgets = tmp_path / "a.ipynb"
    without = tmp_path / "b.ipynb"
    nbformat.write(smoke_notebook(), with_widgets)
    plain = nbformat.v4.new_notebook()
    plain.cells = [
        nbformat.v4.new_markdown_cell("ipywidgets are mentioned only in prose"),
        nbformat.v4.new_code_cell("import torch"),
    ]
    nbformat.write(plain, without)
    assert bu.notebook_uses_widgets(with_widgets)
    assert not bu.notebook_uses_widgets(without)
    assert bu.widget_notebooks(tmp_path) == [with_widgets]
    # the gnnedu.widgets package, however a notebook imports it
    for name, source in [
        ("c", "from gnnedu.widgets import message_passing as gw"),
        ("d", "from gnnedu.widgets import recommendations"),
        ("e", "from gnnedu.widgets.recommendations import RecommendationExplorer"),
        ("f", "import gnnedu.widgets.message_passing"),
        ("g", "from gnnedu import mp, widgets"),
    ]:
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(source)]
        nbformat.write(nb, tmp_path / f"{name}.ipynb")
        assert bu.notebook_uses_widgets(tmp_path / f"{name}.ipynb"), source
    # other gnnedu modules are not widgets
    for name, source in [("h", "from gnnedu import explain, plot"),
                         ("i", "from gnnedu.widgets_notes import x  # not the package")]:
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(source)]
        nbformat.write(nb, tmp_path / f"{name}.ipynb")
        assert not bu.notebook_uses_widgets(tmp_path / f"{name}.ipynb"), source


def test_prepared_copy_has_no_outputs(tmp_path):
    """The browser works on a copy without outputs or widget state (no browser needed)."""
    nb = smoke_notebook()
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", text="old\n")]
    nb.cells[1].execution_count = 7
    nb.metadata["widgets"] = {"state": {}}
    src = tmp_path / "src"
    src.mkdir()
    nbformat.write(nb, src / "n.ipynb")
    copy = bu.copy_notebooks(src, tmp_path / "copy") / "n.ipynb"
    again = nbformat.read(copy, as_version=4)
    assert all(not c.get("outputs") for c in again.cells if c.cell_type == "code")
    assert "widgets" not in again.metadata
    assert again.metadata["kernelspec"]["name"] == "python3"
    assert nbformat.read(src / "n.ipynb", as_version=4).cells[1].execution_count == 7


def test_browser_harness_smoke(lab, page):
    """The harness itself: a slider, a dropdown and a checkbox each change their output."""
    path = lab.root_dir / "_browser_smoke.ipynb"
    nbformat.write(smoke_notebook(), path)
    bu.prepare_notebook(path)
    lines = check_notebook(page, lab, "_browser_smoke.ipynb")
    assert [line.split(": ", 1)[1].split()[0] for line in lines] == [
        "slider", "dropdown", "checkbox",
    ]


@pytest.mark.parametrize("notebook", WIDGET_NOTEBOOKS, ids=[p.name for p in WIDGET_NOTEBOOKS])
def test_widget_notebook_in_browser(lab, page, notebook):
    check_notebook(page, lab, notebook.name)


def test_browser_harness_catches_failures(lab, page):
    """The harness fails on a dead control and on a widget view that cannot be displayed."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "import ipywidgets as widgets\n"
            "from IPython.display import display\n"
            "out = widgets.Output()\n"
            "with out:\n"
            "    print('this never changes')\n"
            "display(widgets.VBox([widgets.IntSlider(value=1, max=5), out]))"
        ),
        # A view of a model that does not exist: JupyterLab shows "Error displaying widget".
        nbformat.v4.new_code_cell(
            "view = {'model_id': 'no-such-model', 'version_major': 2, 'version_minor': 0}\n"
            "display({'application/vnd.jupyter.widget-view+json': view}, raw=True)"
        ),
    ]
    path = lab.root_dir / "_browser_broken.ipynb"
    nbformat.write(nb, path)
    bu.prepare_notebook(path)
    try:
        cells = bu.open_and_run_all(page, lab, path.name, RUN_TIMEOUT_S)
        with pytest.raises(AssertionError, match="Error displaying widget"):
            bu.assert_widgets_rendered(page, path.name, cells)
        with pytest.raises(AssertionError, match="output unchanged"):
            bu.assert_controls_respond(page, path.name, 0, wait_ms=3_000)
    finally:
        bu.shutdown_kernel(page)


def _wait_for_new_image(page, handle, before: str, what: str, timeout_ms: int = 15_000):
    try:
        page.wait_for_function(
            f"([node, before]) => {{ const sig = ({bu.JS_OUTPUT_SIGNATURE})(node);"
            " return sig !== '' && sig !== before; }",
            arg=[handle, before], timeout=timeout_ms, polling=200)
    except Exception as exc:
        if "Timeout" not in type(exc).__name__:
            raise
        raise AssertionError(f"attention explorer: picture unchanged after {what}") from None


def test_attention_explorer_in_browser(lab, page):
    """Notebook 03's attention explorer renders, and its preset menu and heads slider redraw it."""
    name = "03_message_passing_explorer.ipynb"
    try:
        cells = bu.open_and_run_all(page, lab, name, RUN_TIMEOUT_S)
        bu.assert_widgets_rendered(page, name, cells)
        index = next(c["index"] for c in cells if c["widget"]
                     and bu.cell_output(page, c["index"]).locator(".gnnedu-attention").count())
        box = bu.cell_output(page, index).locator(".gnnedu-attention")
        assert box.locator("img").first.is_visible(), "attention explorer: no picture"
        handle = bu.cell_output(page, index).element_handle()

        menus = box.locator("select")  # graph, preset, node
        assert menus.count() == 3
        before = page.evaluate(bu.JS_OUTPUT_SIGNATURE, handle)
        menus.nth(1).select_option(label="+ degree")
        _wait_for_new_image(page, handle, before, "choosing the preset '+ degree'")

        heads = box.locator(".noUi-handle, .ui-slider-handle").nth(1)  # |a|, then heads
        before = page.evaluate(bu.JS_OUTPUT_SIGNATURE, handle)
        heads.focus()
        heads.press("ArrowRight")
        _wait_for_new_image(page, handle, before, "one more head")
    except BaseException:
        bu.save_failure(page, "attention_explorer")
        raise
    finally:
        try:
            bu.shutdown_kernel(page)
        except Exception:
            pass
