"""Helpers for the real-browser widget check (tests/test_browser.py).

JupyterLab runs on loopback from this virtualenv; Debian's Chromium, driven by playwright-python
through ``executable_path`` (playwright never downloads a browser here), opens a temporary copy of
each notebook, runs all cells, and checks that every widget renders and responds.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"

# As root Chromium needs --no-sandbox; the background-networking flags stop it from calling home,
# which a closed network answers with refused connections.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CHROMIUM_CANDIDATES = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]

# A notebook "has widgets" when a code cell names ipywidgets or the gnnedu.widgets package:
# ``from gnnedu.widgets import message_passing as gw``, ``from gnnedu.widgets.recommendations
# import RecommendationExplorer``, ``import gnnedu.widgets...``, ``from gnnedu import widgets``.
WIDGET_PATTERN = re.compile(
    r"\bipywidgets\b|\bgnnedu\.widgets\b"
    r"|\bfrom\s+gnnedu\s+import\b[^\n]*\bwidgets\b"
)

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"

# JupyterLab user settings for the test server: render every cell (no windowing, so off-screen
# widgets exist in the DOM) and never fetch news (no network; no toast over the notebook).
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


def find_chromium() -> str | None:
    """Path of a Chromium executable: ``$GNNEDU_CHROMIUM``, then Debian's paths, then ``$PATH``."""
    env = os.environ.get("GNNEDU_CHROMIUM")
    if env:
        return env if os.access(env, os.X_OK) else None
    for path in CHROMIUM_CANDIDATES:
        if os.access(path, os.X_OK):
            return path
    return shutil.which("chromium")


def artifacts_dir() -> Path:
    """Folder for failure screenshots: ``$GNNEDU_ARTIFACTS`` or ``test-artifacts/browser/``."""
    env = os.environ.get("GNNEDU_ARTIFACTS")
    path = Path(env) if env else REPO / "test-artifacts" / "browser"
    path.mkdir(parents=True, exist_ok=True)
    return path


def notebook_uses_widgets(path: Path) -> bool:
    """True when any code cell of the notebook mentions ipywidgets or a gnnedu widget module."""
    nb = nbformat.read(path, as_version=4)
    return any(
        cell.cell_type == "code" and WIDGET_PATTERN.search(cell.source) for cell in nb.cells
    )


def widget_notebooks(folder: Path = NOTEBOOKS) -> list[Path]:
    """The numbered notebooks in ``folder`` that use widgets, sorted by name."""
    return sorted(p for p in folder.glob("*.ipynb") if notebook_uses_widgets(p))


def prepare_notebook(path: Path) -> None:
    """Strip outputs and saved widget state in place, and pin the venv's ``python3`` kernel.

    Stale committed outputs of widget cells would show "Error displaying widget" (their models
    are gone) until re-run; starting clean makes every rendered widget come from this run.
    """
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    nb.metadata.pop("widgets", None)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    nbformat.write(nb, path)


def copy_notebooks(src: Path, dest: Path) -> Path:
    """Copy ``src`` (notebooks and solutions/) to ``dest`` and prepare every notebook there."""
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    for path in dest.rglob("*.ipynb"):
        prepare_notebook(path)
    return dest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LabServer:
    """A JupyterLab server on 127.0.0.1 with a random token, serving ``root_dir``."""

    def __init__(self, root_dir: Path, work_dir: Path):
        self.root_dir = Path(root_dir)
        self.work_dir = Path(work_dir)
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.proc: subprocess.Popen | None = None
        self.log_path = self.work_dir / "jupyterlab.log"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def notebook_url(self, name: str) -> str:
        # ?reset ignores any saved workspace layout.
        return f"{self.base_url}/lab/tree/{name}?reset&token={self.token}"

    def start(self, timeout: float = 90.0) -> None:
        settings_dir = self.work_dir / "lab-user-settings"
        for rel, values in LAB_SETTINGS.items():
            target = settings_dir / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(values))
        env = dict(os.environ)
        # The kernel inherits this environment (GNNEDU_DATA included); the venv's bin comes first
        # so that the "python" of the venv's python3 kernelspec is this interpreter.
        env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
        env["JUPYTER_RUNTIME_DIR"] = str(self.work_dir / "runtime")
        env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
        cmd = [
            sys.executable, "-m", "jupyterlab",
            "--allow-root",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root_dir}",
            "--LabApp.expose_app_in_browser=True",
            f"--LabApp.user_settings_dir={settings_dir}",
            f"--LabApp.workspaces_dir={self.work_dir / 'workspaces'}",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ]
        self.log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        status = f"{self.base_url}/api/status?token={self.token}"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited early; see {self.log_path}:\n{self.tail()}")
            try:
                with urllib.request.urlopen(status, timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"jupyter lab did not answer in {timeout:.0f} s:\n{self.tail()}")

    def tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text().splitlines()[-n:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: the server shuts its kernels down
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None
        if getattr(self, "log", None) is not None:
            self.log.close()
            self.log = None


# ---------------------------------------------------------------------------------------------
# JavaScript run in the JupyterLab page (window.jupyterapp is exposed by expose_app_in_browser).

JS_NOTEBOOK_READY = """
() => {
  const app = window.jupyterapp;
  if (!app || !app.shell) return false;
  const panel = app.shell.currentWidget;
  if (!panel || !panel.content || !panel.sessionContext || !panel.context) return false;
  if (!panel.context.isReady) return false;
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  return !!kernel && kernel.status === 'idle';
}
"""

# Start "Run All Cells" (the kernel is fresh, so no restart is needed) without awaiting it here;
# the test polls window.__gnneduRun so that a hung kernel hits a Python-side timeout.
JS_START_RUN_ALL = """
() => {
  window.__gnneduRun = undefined;
  window.jupyterapp.commands.execute('notebook:run-all-cells').then(
    (ok) => { window.__gnneduRun = {ok: ok === true || ok === undefined, error: null}; },
    (err) => { window.__gnneduRun = {ok: false, error: String(err)}; });
}
"""

JS_RUN_FINISHED = """
() => {
  if (window.__gnneduRun === undefined) return false;
  const panel = window.jupyterapp.shell.currentWidget;
  const kernel = panel.sessionContext.session.kernel;
  const busy = Array.from(panel.content.node.querySelectorAll('.jp-InputArea-prompt'))
    .some((p) => p.textContent.includes('*'));
  return kernel.status === 'idle' && !busy;
}
"""

# One record per cell; tags each cell node with data-gnnedu-cell so locators can find it.
JS_CELL_REPORT = """
() => {
  const panel = window.jupyterapp.shell.currentWidget;
  return panel.content.widgets.map((cell, i) => {
    cell.node.setAttribute('data-gnnedu-cell', String(i));
    const rec = {index: i, type: cell.model.type, count: null, widget: false, errors: []};
    if (cell.model.type !== 'code') return rec;
    rec.count = cell.model.executionCount;
    const outs = cell.model.outputs;
    for (let j = 0; j < outs.length; j++) {
      const o = outs.get(j).toJSON();
      if (o.output_type === 'error') rec.errors.push(o.ename + ': ' + o.evalue);
      if (o.data && o.data['WIDGET_MIME']) rec.widget = true;
    }
    return rec;
  });
}
""".replace("WIDGET_MIME", WIDGET_MIME)

# What a reader sees change: images (matplotlib), Output widget text, HTML widget content.
# Control readouts and labels are left out on purpose: they change with the control itself.
JS_OUTPUT_SIGNATURE = """
(node) => {
  const parts = [];
  node.querySelectorAll('.jp-Cell-outputArea img').forEach((img) => parts.push('img:' + img.src));
  node.querySelectorAll('.widget-output').forEach((o) => parts.push('out:' + o.innerText));
  node.querySelectorAll('.widget-html-content').forEach((o) => parts.push('html:' + o.innerHTML));
  return parts.join('|');
}
"""

# Interactive controls inside an output area, in the order they are tried.
CONTROL_SELECTORS = [
    ("slider", ".jupyter-widgets .noUi-handle, .jupyter-widgets .ui-slider-handle"),
    ("dropdown", ".jupyter-widgets select"),
    ("checkbox", ".jupyter-widgets input[type=checkbox]"),
    ("toggle", ".widget-toggle-buttons button:not(.mod-active)"),
    ("radio", ".widget-radio-box input[type=radio]:not(:checked)"),
]


# ---------------------------------------------------------------------------------------------
# Driving a page (playwright sync API).

LOADING_TEXT = "Loading widget..."
ERROR_TEXT = "Error displaying widget"


def open_and_run_all(page, server: LabServer, name: str, run_timeout_s: float) -> list[dict]:
    """Open ``name``, run all cells in its fresh kernel, wait until idle; return cell records."""
    page.goto(server.notebook_url(name))
    page.wait_for_function(JS_NOTEBOOK_READY, timeout=90_000, polling=250)
    page.evaluate(JS_START_RUN_ALL)
    page.wait_for_function(JS_RUN_FINISHED, timeout=run_timeout_s * 1000, polling=500)
    run = page.evaluate("() => window.__gnneduRun")
    cells = page.evaluate(JS_CELL_REPORT)
    assert run["ok"], f"Run All Cells did not succeed in {name}: {run['error']}"
    for cell in cells:
        assert not cell["errors"], f"{name} cell {cell['index']} raised {cell['errors']}"
    return cells


def shutdown_kernel(page) -> None:
    page.evaluate(
        "async () => { const p = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
        " if (p && p.sessionContext) { await p.sessionContext.shutdown(); } }"
    )


def cell_output(page, index: int):
    return page.locator(f'[data-gnnedu-cell="{index}"] .jp-Cell-outputArea')


def assert_widgets_rendered(page, name: str, cells: list[dict]) -> list[int]:
    """Every widget output shows a widget view and no loading/error text; returns their cells."""
    widget_cells = [c["index"] for c in cells if c["widget"]]
    assert widget_cells, f"{name} uses widgets but no cell displayed one"
    for index in widget_cells:
        out = cell_output(page, index)
        # Views render asynchronously after the kernel reply: give them a few seconds.
        page.wait_for_function(
            "([node, text]) => !node.innerText.includes(text)",
            arg=[out.element_handle(), LOADING_TEXT],
            timeout=15_000,
        )
        text = out.inner_text()
        assert ERROR_TEXT not in text, f"{name} cell {index}: {text.strip()[:200]!r}"
        views = out.locator(".jp-OutputArea-output .jupyter-widgets")
        assert views.count() > 0, f"{name} cell {index}: no widget view rendered"
        assert views.first.is_visible(), f"{name} cell {index}: widget view not visible"
    body = page.locator(".jp-Notebook").inner_text()
    assert ERROR_TEXT not in body, f"{name}: '{ERROR_TEXT}' on the page"
    assert LOADING_TEXT not in body, f"{name}: '{LOADING_TEXT}' still on the page"
    return widget_cells


def find_controls(out) -> list[tuple[str, object]]:
    """The visible interactive controls of one output area, in CONTROL_SELECTORS order."""
    found = []
    for kind, selector in CONTROL_SELECTORS:
        loc = out.locator(selector)
        for i in range(min(loc.count(), 3)):
            if loc.nth(i).is_visible():
                found.append((kind, loc.nth(i)))
    return found


def move_control(kind: str, control) -> str:
    """Move one control one step; return a description of what was done."""
    if kind == "slider":
        now = control.get_attribute("aria-valuenow")
        top = control.get_attribute("aria-valuemax")
        at_max = now is not None and top is not None and float(now) >= float(top)
        key = "ArrowLeft" if at_max else "ArrowRight"
        control.focus()
        control.press(key)
        return f"slider {key} from {now}"
    if kind == "dropdown":
        current = control.input_value()
        values = control.locator("option").evaluate_all("(os) => os.map((o) => o.value)")
        other = next((v for v in values if v != current), None)
        if other is None:
            return "dropdown with one option (not moved)"
        control.select_option(other)
        return f"dropdown {current!r} -> {other!r}"
    control.click()
    return f"{kind} clicked"


def assert_controls_respond(page, name: str, index: int, wait_ms: int = 10_000) -> str | None:
    """Move controls of one widget cell until its visible output changes.

    Returns the description of the move that changed the output, or None for a widget with no
    interactive control (a progress bar, say). Fails when no control changes the output.
    """
    out = cell_output(page, index)
    controls = find_controls(out)
    if not controls:
        return None
    handle = out.element_handle()
    tried = []
    for kind, control in controls:
        before = page.evaluate(JS_OUTPUT_SIGNATURE, handle)
        if not before:
            raise AssertionError(
                f"{name} cell {index}: widget has controls but no visible output to compare"
            )
        what = move_control(kind, control)
        tried.append(what)
        try:
            page.wait_for_function(
                f"([node, before]) => {{ const sig = ({JS_OUTPUT_SIGNATURE})(node);"
                " return sig !== '' && sig !== before; }",
                arg=[handle, before],
                timeout=wait_ms,
                polling=200,
            )
            return what
        except Exception as exc:  # playwright TimeoutError: try the next control
            if "Timeout" not in type(exc).__name__:
                raise
    raise AssertionError(f"{name} cell {index}: output unchanged after {tried}")


def save_failure(page, label: str) -> Path:
    """Screenshot the page and every widget cell into artifacts_dir(); return the folder."""
    folder = artifacts_dir()
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", label)
    try:
        page.screenshot(path=str(folder / f"{safe}-page.png"))
        cells = page.locator("[data-gnnedu-cell]")
        for i in range(cells.count()):
            cell = cells.nth(i)
            if cell.locator(".jupyter-widgets").count():
                cell.scroll_into_view_if_needed(timeout=2_000)
                cell.screenshot(path=str(folder / f"{safe}-cell{i:02d}.png"), timeout=5_000)
    except Exception as exc:  # a screenshot must not hide the real failure
        print(f"could not save every screenshot: {exc}")
    print(f"browser check failed: screenshots in {folder}")
    return folder
