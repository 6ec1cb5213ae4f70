"""Plot helpers shared by the notebooks: graphs, vectors on nodes, heatmaps and curves.

Conventions (every notebook relies on them):

* Each drawing function returns the ``matplotlib.figure.Figure`` it drew on and gives it a
  title and axis labels (and a legend or colour bar where colours carry meaning).
* Figures are :class:`Figure` objects (a ``matplotlib.figure.Figure`` that renders itself as
  PNG in Jupyter), made without ``pyplot``: they never enter pyplot's list of open figures, so
  nothing leaks, no ``plt.close`` is needed, and a notebook cell shows a figure exactly once --
  when it is the cell's last value or is passed to ``display()``. This works whatever the
  matplotlib backend (JupyterLab, VS Code, Colab, nbconvert). Save one with
  ``fig.savefig(...)``; turn one into PNG bytes (for an ``ipywidgets.Image``) with
  :func:`figure_to_png`.
* Functions that take ``ax=`` draw into that axes (so several plots can share a figure) and
  return ``ax.figure``; without ``ax`` they make a new figure of size ``figsize``.
* Layouts are deterministic: :func:`spring_positions` seeds networkx's spring layout and rounds
  the coordinates, :func:`two_column_positions` places a bipartite graph in two columns.

Introduced in notebooks 01-03; reused by the later notebooks (``curves`` for training curves,
``heatmap`` for score and similarity matrices).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import matplotlib.figure
import networkx as nx
import numpy as np
import torch
from matplotlib.lines import Line2D

# The colour-blind-safe palette of Okabe and Ito (2008, "Color Universal Design"), used for every
# figure: new_figure() makes it the colour cycle of each axes.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442",
           "#000000")
USER_COLOR = "#0072B2"       # blue
ITEM_COLOR = "#E69F00"       # orange
HIGHLIGHT_COLOR = "#D55E00"  # vermillion
DIM_COLOR = "#d9d9d9"

# One colour per model in every notebook (display names, as ``model.name``).
MODEL_COLORS = {
    "Random": "#999999", "Popularity": "#000000", "ItemKNN": "#56B4E9", "EASE": "#009E73",
    "GraphFilter": "#F0E442", "BPR-MF": "#E69F00", "GCN": "#CC79A7", "LightGCN": "#0072B2",
    # the feature models of notebook 09
    "Features": "#DDCC77", "MF-feat": "#44AA99", "LightGCN-feat": "#D55E00",
    "HeteroSAGE": "#882255",
}

DISPLAY_DPI = 150  # resolution of the PNG a notebook shows
# An opaque white background for every figure, whatever the rcParams (Jupyter front ends and
# styles may make it transparent): dark text and lines then stay readable on a dark page theme.
FACECOLOR = "white"


def model_color(name: str) -> str:
    """The colour of model ``name`` in every figure (:data:`MODEL_COLORS`); a model without one
    gets a palette colour chosen from its name, the same on every run."""
    if name in MODEL_COLORS:
        return MODEL_COLORS[name]
    return PALETTE[sum(name.encode()) % len(PALETTE)]


# ---------------------------------------------------------------------------------------------
# Figures and layouts
# ---------------------------------------------------------------------------------------------


class Figure(matplotlib.figure.Figure):
    """A matplotlib Figure that Jupyter displays as a PNG by itself (``_repr_png_``).

    A plain ``Figure`` made without pyplot shows only as text unless the inline backend happens
    to be loaded; this one renders the same way in every front end.
    """

    def _repr_png_(self):
        return figure_to_png(self, dpi=DISPLAY_DPI)


def new_figure(nrows: int = 1, ncols: int = 1, figsize=(6.0, 4.0), **subplot_kw):
    """A fresh constrained-layout ``Figure`` (not registered with pyplot) and its axes.

    Returns ``(fig, axes)`` where ``axes`` is one ``Axes`` for a 1x1 grid, else an array.
    """
    fig = Figure(figsize=figsize, layout="constrained", facecolor=FACECOLOR)
    axes = fig.subplots(nrows, ncols, squeeze=True, subplot_kw=subplot_kw or None)
    for ax in np.atleast_1d(axes).ravel():
        ax.set_prop_cycle(color=list(PALETTE))
    return fig, axes


def axes_for(ax=None, figsize=(6.0, 4.0)):
    """``(fig, ax)``: the given axes and its figure, or a new figure of ``figsize``.

    The pattern every drawing function here follows; use it in your own ``draw_*`` helpers so
    they too can draw into a shared figure.
    """
    if ax is not None:
        return ax.figure, ax
    return new_figure(figsize=figsize)


def figure_to_png(fig: Figure, dpi: int = 80) -> bytes:
    """Render ``fig`` to PNG bytes (for ``ipywidgets.Image`` or a file)."""
    buf = io.BytesIO()
    # A figure made outside new_figure() may have a transparent background: save it opaque.
    transparent = fig.get_facecolor()[3] == 0
    fig.savefig(buf, format="png", dpi=dpi, facecolor=FACECOLOR if transparent else "auto")
    return buf.getvalue()


def spring_positions(graph: nx.Graph, seed: int = 0, k: float | None = None, iterations=200):
    """Seeded spring layout with coordinates rounded to 4 decimals: the same picture every run."""
    pos = nx.spring_layout(graph, seed=seed, k=k, iterations=iterations)
    return {node: (round(float(x), 4), round(float(y), 4)) for node, (x, y) in pos.items()}


def two_column_positions(left: Sequence, right: Sequence, width: float = 2.0):
    """Positions for a bipartite graph: ``left`` nodes top-down at x=0, ``right`` at x=width.

    Both columns are centred vertically, so columns of different lengths line up.
    """
    pos = {}
    for column, x in ((list(left), 0.0), (list(right), width)):
        n = len(column)
        for r, node in enumerate(column):
            pos[node] = (x, (n - 1) / 2.0 - r)
    return pos


def bipartite_positions(graph: nx.Graph, attr: str = "bipartite", width: float = 2.0):
    """Two columns from a node attribute: ``attr == 0`` on the left (users), the rest right."""
    left = [n for n, d in graph.nodes(data=True) if d.get(attr, 0) == 0]
    right = [n for n, d in graph.nodes(data=True) if d.get(attr, 0) != 0]
    return two_column_positions(left, right, width)


def node_labels(graph: nx.Graph, attr: str = "label") -> dict:
    """``{node: graph.nodes[node][attr]}``, falling back to ``str(node)``."""
    return {n: str(d.get(attr, n)) for n, d in graph.nodes(data=True)}


# ---------------------------------------------------------------------------------------------
# Graphs
# ---------------------------------------------------------------------------------------------


def draw_graph(
    graph: nx.Graph,
    pos: Mapping | None = None,
    *,
    ax=None,
    title: str = "Graph",
    node_color=None,
    cmap: str = "viridis",
    vmin: float | None = None,
    vmax: float | None = None,
    colorbar_label: str | None = None,
    labels: Mapping | None = None,
    edge_labels: Mapping | None = None,
    edge_width=None,
    highlight: Sequence | None = None,
    dim: Sequence | None = None,
    legend: Mapping[str, str] | None = None,
    node_size: float = 500,
    font_size: float = 9,
    figsize=(6.0, 4.5),
) -> Figure:
    """Draw ``graph`` and return the figure.

    ``node_color`` is one colour, a list of colours, or a list of numbers (mapped through
    ``cmap``; a colour bar named ``colorbar_label`` is added when given). ``labels`` defaults to
    each node's ``label`` attribute. ``edge_labels`` maps ``(u, v)`` to text; ``edge_width`` is
    a number or a list in ``graph.edges`` order. ``highlight`` nodes get a thick red ring,
    ``dim`` nodes are drawn light grey. ``legend`` maps a text to a colour.
    """
    fig, ax = axes_for(ax, figsize)
    pos = dict(pos) if pos is not None else spring_positions(graph)
    nodes = list(graph.nodes)
    if node_color is None:
        node_color = USER_COLOR
    if isinstance(node_color, str):
        numeric = False
    else:
        arr = np.asarray(node_color)
        numeric = arr.ndim == 1 and np.issubdtype(arr.dtype, np.number)
    index = {n: k for k, n in enumerate(nodes)}
    dim_set = set(dim or [])
    keep = [n for n in nodes if n not in dim_set]
    if isinstance(node_color, str):
        keep_vals = node_color
    else:
        values = list(node_color)
        if len(values) != len(nodes):
            raise ValueError(f"node_color has {len(values)} entries for {len(nodes)} nodes")
        keep_vals = [values[index[n]] for n in keep]
    if dim_set:
        nx.draw_networkx_nodes(
            graph, pos, nodelist=[n for n in nodes if n in dim_set], node_color=DIM_COLOR,
            node_size=node_size, ax=ax, edgecolors="#999999",
        )
    width = 1.2 if edge_width is None else edge_width
    nx.draw_networkx_edges(graph, pos, ax=ax, width=width, edge_color="#888888", alpha=0.8)
    coll = None
    if keep:
        coll = nx.draw_networkx_nodes(
            graph, pos, nodelist=keep, node_color=keep_vals, cmap=cmap if numeric else None,
            vmin=vmin, vmax=vmax, node_size=node_size, ax=ax, edgecolors="#333333",
        )
    if highlight:
        nx.draw_networkx_nodes(
            graph, pos, nodelist=list(highlight), node_color="none", node_size=node_size * 1.6,
            edgecolors=HIGHLIGHT_COLOR, linewidths=2.5, ax=ax,
        )
    nx.draw_networkx_labels(
        graph, pos, labels=dict(labels) if labels is not None else node_labels(graph),
        font_size=font_size, ax=ax,
    )
    if edge_labels:
        nx.draw_networkx_edge_labels(
            graph, pos, edge_labels=dict(edge_labels), font_size=font_size, ax=ax,
            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.9},
        )
    if numeric and colorbar_label and coll is not None:
        fig.colorbar(coll, ax=ax, label=colorbar_label, shrink=0.8)
    if legend:
        handles = [
            Line2D([], [], marker="o", linestyle="", markersize=9,
                                    markerfacecolor=c, markeredgecolor="#333333", label=t)
            for t, c in legend.items()
        ]
        ax.legend(handles=handles, loc="best", fontsize=8, framealpha=0.9)
    ax.set_title(title)
    ax.set_axis_off()
    ax.margins(0.12)
    return fig


def draw_bipartite(
    graph: nx.Graph,
    *,
    weight: str | None = "rating",
    title: str = "User-item graph",
    ax=None,
    pos: Mapping | None = None,
    user_label: str = "user",
    item_label: str = "item",
    figsize=(7.0, 5.0),
) -> Figure:
    """Draw a user-item graph in two columns (node attribute ``bipartite``: 0 = user, left).

    Names are written beside the nodes (users on the left, items on the right). With
    ``weight`` each edge is labelled with that edge attribute, close to its user end, and drawn
    with a width proportional to it.
    """
    pos = pos if pos is not None else bipartite_positions(graph)
    is_user = {n: d.get("bipartite", 0) == 0 for n, d in graph.nodes(data=True)}
    colors = [USER_COLOR if is_user[n] else ITEM_COLOR for n in graph.nodes]
    edge_width = None
    if weight is not None:
        vals = [d.get(weight, 1) for _, _, d in graph.edges(data=True)]
        top = max(vals) if vals else 1
        edge_width = [0.6 + 2.9 * v / top for v in vals]
    fig = draw_graph(
        graph, pos, ax=ax, title=title, node_color=colors, edge_width=edge_width,
        labels={}, node_size=350, figsize=figsize,
    )
    ax = ax if ax is not None else fig.axes[0]
    for n, label in node_labels(graph).items():
        x, y = pos[n]
        dx = -0.12 if is_user[n] else 0.12
        ax.text(x + dx, y, label, ha="right" if is_user[n] else "left", va="center", fontsize=10)
    if weight is not None:
        for u, v, d in graph.edges(data=True):
            a, b = (u, v) if is_user[u] else (v, u)  # a = user end
            (xa, ya), (xb, yb) = pos[a], pos[b]
            t = 0.33  # the label sits a third of the way from the user to the item
            ax.text(xa + t * (xb - xa), ya + t * (yb - ya), str(d.get(weight, 1)), fontsize=8,
                    ha="center", va="center",
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "#999999",
                          "lw": 0.5})
    handles = [
        Line2D([], [], marker="o", linestyle="", markersize=9, markerfacecolor=c,
               markeredgecolor="#333333", label=t)
        for t, c in ((user_label, USER_COLOR), (item_label, ITEM_COLOR))
    ]
    if weight is not None:
        handles.append(Line2D([], [], color="#888888", lw=2.5, label=f"edge: {weight}"))
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0),
              ncol=len(handles), fontsize=8, frameon=False)
    ax.margins(x=0.35, y=0.08)
    return fig


def draw_messages(
    ax,
    pos: Mapping,
    sources: Sequence,
    target,
    *,
    labels: Mapping | None = None,
    color: str = HIGHLIGHT_COLOR,
    rad: float = 0.2,
    shrink: float = 16,
) -> Figure:
    """Arrows ``j -> target`` for each ``j`` in ``sources`` (a self-message is a small loop).

    ``labels`` maps a source to the text written at the middle of its arrow.
    """
    tx, ty = pos[target]
    for j in sources:
        sx, sy = pos[j]
        if j == target:
            ax.annotate("", xy=(tx + 0.02, ty + 0.06), xytext=(tx - 0.02, ty + 0.06),
                        arrowprops={"arrowstyle": "-|>", "color": color, "lw": 1.8,
                                    "connectionstyle": "arc3,rad=-2.5"})
            mid = (tx, ty + 0.16)
        else:
            ax.annotate("", xy=(tx, ty), xytext=(sx, sy),
                        arrowprops={"arrowstyle": "-|>", "color": color, "lw": 2.0,
                                    "shrinkA": shrink, "shrinkB": shrink, "mutation_scale": 16,
                                    "connectionstyle": f"arc3,rad={rad}"})
            # the middle of the arc3 curve: half-way to its control point, which lies
            # rad * |st| off the straight line (approximate when the axes are not square)
            mid = ((sx + tx) / 2 + 0.5 * rad * (ty - sy), (sy + ty) / 2 - 0.5 * rad * (tx - sx))
        if labels and j in labels:
            ax.text(*mid, str(labels[j]), color=color, fontsize=8, ha="center", va="center",
                    bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": color, "lw": 0.8})
    return ax.figure


def format_vector(v, decimals: int = 2) -> str:
    """``[0.5, 0.45, 0.7]``: a short vector with trailing zeros dropped."""
    parts = []
    for x in np.asarray(v, dtype=float).ravel():
        s = f"{x:.{decimals}f}".rstrip("0").rstrip(".")
        parts.append("0" if s in ("-0", "") else s)
    return "[" + ", ".join(parts) + "]"


def annotate_vectors(
    ax,
    pos: Mapping,
    vectors: Mapping,
    *,
    decimals: int = 2,
    offset: float = 0.2,
    fontsize: float = 8,
    color: str = "#222222",
) -> Figure:
    """Write each node's vector in a small box next to it (``vectors`` maps node -> vector).

    Each box sits ``offset`` (in data units) above a node that lies above the centre of the
    drawing and below any other node, so boxes stay clear of the edges of small drawings.
    """
    centre_y = float(np.mean([pos[n][1] for n in pos]))
    spots = []
    for node, vec in vectors.items():
        x, y = pos[node]
        y = y + offset if y > centre_y + 1e-9 else y - offset
        spots.append((x, y))
        ax.text(x, y, format_vector(vec, decimals), fontsize=fontsize,
                ha="center", va="center", color=color, family="monospace",
                bbox={"boxstyle": "round,pad=0.25", "fc": "#f7f7f7", "ec": "#bbbbbb"})
    if spots:  # keep the boxes inside the axes
        ax.update_datalim(spots)
        ax.autoscale_view()
    return ax.figure


# ---------------------------------------------------------------------------------------------
# Heatmaps and curves
# ---------------------------------------------------------------------------------------------


def heatmap(
    matrix,
    *,
    row_labels: Sequence | None = None,
    col_labels: Sequence | None = None,
    title: str = "Heatmap",
    xlabel: str = "",
    ylabel: str = "",
    annotate: bool | None = None,
    fmt: str = "{:.2f}",
    cmap: str = "viridis",
    vmin: float | None = None,
    vmax: float | None = None,
    colorbar_label: str | None = "value",
    ax=None,
    figsize=None,
) -> Figure:
    """Draw a matrix as a heatmap with a colour bar and return the figure.

    ``annotate`` writes each value into its cell (default: when the matrix has at most 150
    cells). Labels default to the row and column indices; long label lists are thinned.
    """
    m = np.asarray(matrix, dtype=float)
    if m.ndim != 2:
        raise ValueError(f"heatmap needs a 2-D matrix, got shape {m.shape}")
    n_rows, n_cols = m.shape
    if figsize is None:
        figsize = (min(12.0, 1.6 + 0.55 * n_cols), min(9.0, 1.4 + 0.32 * n_rows))
    fig, ax = axes_for(ax, figsize)
    im = ax.imshow(m, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto", interpolation="nearest")
    rows = list(row_labels) if row_labels is not None else list(range(n_rows))
    cols = list(col_labels) if col_labels is not None else list(range(n_cols))
    rstep = max(1, n_rows // 40)
    cstep = max(1, n_cols // 30)
    ax.set_yticks(range(0, n_rows, rstep), [str(r) for r in rows[::rstep]])
    ax.set_xticks(range(0, n_cols, cstep), [str(c) for c in cols[::cstep]],
                  rotation=45 if any(len(str(c)) > 3 for c in cols) else 0, ha="right"
                  if any(len(str(c)) > 3 for c in cols) else "center")
    if annotate is None:
        annotate = m.size <= 150
    if annotate:
        for r in range(n_rows):
            for c in range(n_cols):
                red, green, blue, _ = im.cmap(im.norm(m[r, c]))
                dark = 0.299 * red + 0.587 * green + 0.114 * blue < 0.5  # perceived brightness
                ax.text(c, r, fmt.format(m[r, c]), ha="center", va="center", fontsize=8,
                        color="white" if dark else "black")
    if colorbar_label:
        fig.colorbar(im, ax=ax, label=colorbar_label, shrink=0.85)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return fig


def heatmap_row(
    matrices: Sequence,
    *,
    titles: Sequence[str],
    suptitle: str,
    row_labels: Sequence | None = None,
    col_labels: Sequence | None = None,
    xlabel: str = "",
    ylabel: str = "",
    shared_scale: bool = True,
    colorbar_label: str = "value",
    annotate: bool | None = None,
    fmt: str = "{:.2f}",
    cmap: str = "viridis",
    figsize=None,
) -> Figure:
    """Several heatmaps side by side (e.g. node features layer by layer), one colour bar each,
    on one shared colour scale when ``shared_scale``."""
    mats = [np.asarray(m, dtype=float) for m in matrices]
    if len(mats) != len(titles):
        raise ValueError("need one title per matrix")
    vmin = min(float(m.min()) for m in mats) if shared_scale else None
    vmax = max(float(m.max()) for m in mats) if shared_scale else None
    if figsize is None:
        n_rows, n_cols = mats[0].shape
        figsize = (min(14.0, len(mats) * (1.8 + 0.5 * n_cols)), min(9.0, 1.6 + 0.3 * n_rows))
    fig, axes = new_figure(1, len(mats), figsize=figsize)
    axes = np.atleast_1d(axes)
    for i, (m, ax, t) in enumerate(zip(mats, axes, titles)):
        heatmap(m, row_labels=row_labels, col_labels=col_labels, title=t, xlabel=xlabel,
                ylabel=ylabel if i == 0 else "", annotate=annotate, fmt=fmt, cmap=cmap,
                vmin=vmin, vmax=vmax, ax=ax,
                colorbar_label=colorbar_label if (not shared_scale or i == len(mats) - 1)
                else None)
    fig.suptitle(suptitle)
    return fig


def curves(
    x,
    ys: Mapping[str, Sequence],
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    logy: bool = False,
    marker: str | None = "o",
    ax=None,
    figsize=(6.0, 4.0),
    legend_title: str | None = None,
    colors: Mapping[str, str] | None = None,
) -> Figure:
    """One line per entry of ``ys`` (name -> values at ``x``), with a legend.

    ``x`` may also be a mapping with the same keys as ``ys`` when the lines have different
    x values (e.g. evaluation every few epochs). ``colors``: name -> colour for some lines
    (e.g. ``model_color(name)``); the others take the palette's colours in turn.
    """
    fig, ax = axes_for(ax, figsize)
    for name, y in ys.items():
        xs = x[name] if isinstance(x, Mapping) else x
        y = np.asarray(y, dtype=float)
        if len(xs) != len(y):
            raise ValueError(f"curve {name!r}: {len(xs)} x values but {len(y)} y values")
        ax.plot(xs, y, marker=marker, markersize=4, label=str(name),
                color=(colors or {}).get(name))
    if logy:
        ax.set_yscale("log")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if ys:
        ax.legend(title=legend_title, fontsize=8)
    return fig


# ---------------------------------------------------------------------------------------------
# Embedding maps (notebooks 04 and 08)
# ---------------------------------------------------------------------------------------------


@torch.no_grad()
def pca_2d(x: torch.Tensor) -> dict:
    """Principal components of the rows of ``x`` by SVD of the centred matrix (torch only).

    Returns ``coords`` ``[n, 2]``, ``mean`` ``[d]``, ``components`` ``[d, 2]`` (unit columns;
    each column's sign is fixed so its largest-magnitude loading is positive) and
    ``explained`` (share of the total variance on each axis).
    """
    x = torch.as_tensor(x, dtype=torch.float64)
    if x.dim() != 2 or x.shape[0] < 2 or x.shape[1] < 2:
        raise ValueError(f"pca_2d needs a matrix with at least 2 rows and 2 columns, got "
                         f"{tuple(x.shape)}")
    mean = x.mean(0)
    _, s, vh = torch.linalg.svd(x - mean, full_matrices=False)
    comps = vh[:2].T.clone()
    for c in range(2):
        if comps[comps[:, c].abs().argmax(), c] < 0:
            comps[:, c] = -comps[:, c]
    var = s.pow(2)
    return {"coords": (x - mean) @ comps, "mean": mean, "components": comps,
            "explained": var[:2] / var.sum()}


def project(x: torch.Tensor, pca: Mapping) -> torch.Tensor:
    """Coordinates of rows ``x`` (or one vector) on the axes of ``pca`` (:func:`pca_2d`)."""
    x = torch.as_tensor(x, dtype=torch.float64)
    return (x - pca["mean"]) @ pca["components"]


# ---------------------------------------------------------------------------------------------
# Notebook 07: the ablation, depth and comparison figures (data: gnnedu.sweeps, gnnedu.bench)
# ---------------------------------------------------------------------------------------------


def plot_ablation(frame, metric: str = "recall@20"):
    """Horizontal bars: ``metric`` (mean ± std over seeds) for each ablation step, top down.

    The bars compare magnitudes, so the axis starts at zero; each bar is labelled with its mean.
    """
    fig, ax = new_figure(figsize=(8.5, 0.45 * len(frame) + 1.5))
    y = list(range(len(frame)))[::-1]
    mean, std = frame[metric], frame[f"{metric}_std"]
    ax.barh(y, mean, xerr=std, color=PALETTE[0], capsize=3)
    hi = float((mean + std).max())
    for yi, value, spread in zip(y, mean, std):
        ax.text(value + spread + 0.01 * hi, yi, f"{value:.3f}", va="center", fontsize=8)
    ax.set_yticks(y, frame["label"])
    ax.set_xlim(0.0, 1.15 * hi)
    ax.set_xlabel(f"test {metric}")
    ax.set_title(f"Ablation, article's GCN to LightGCN\n(test {metric}, mean ± std over "
                 f"{int(frame['seeds'].min())} seeds)")
    ax.grid(axis="x", alpha=0.3)
    return fig


def _label_color(label: str, other: str = HIGHLIGHT_COLOR) -> str:
    """The colour of the model a label names ("LightGCN (mean over layers)", "EASE (P1)"), the
    longest model name first; ``other`` (a colour no model uses) when it names none."""
    for name in sorted(MODEL_COLORS, key=len, reverse=True):
        if name in label:
            return MODEL_COLORS[name]
    return other


def plot_depth(curves: Mapping, metrics=("recall@20", "ndcg@20"), references=None):
    """One panel per metric: mean ± std over seeds against the number of layers, one line per
    depth family. ``curves``: ``{label: frame}`` with columns ``step`` (the depth) and, per
    metric, the mean and ``_std`` (``gnnedu.sweeps.depth_curves``). ``references``: optional
    ``{name: {metric: value}}`` drawn as dashed horizontal lines (e.g. other models' P1
    means). A curve or line whose label names a model takes that model's colour
    (:data:`MODEL_COLORS`)."""
    fig, axes = new_figure(1, len(metrics), figsize=(5.6 * len(metrics), 4.2))
    axes = [axes] if len(metrics) == 1 else list(axes)
    depths = set()
    for label, frame in curves.items():
        depths |= set(int(d) for d in frame["step"])
        for ax, m in zip(axes, metrics):
            ax.errorbar(frame["step"], frame[m], yerr=frame[f"{m}_std"], marker="o",
                        markersize=4, capsize=3, label=label, color=_label_color(label))
    styles = iter([":", "--", "-."] * 4)
    for name, values in (references or {}).items():
        style = next(styles)
        for ax, m in zip(axes, metrics):
            if m in values:
                ax.axhline(values[m], color=_label_color(name, "grey"), linestyle=style,
                           linewidth=1.2, label=name)
    for ax, m in zip(axes, metrics):
        ax.set_xticks(sorted(depths))
        ax.set_xlabel("number of layers L")
        ax.set_ylabel(f"test {m}")
        ax.set_title(f"{m} against depth")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return fig


def plot_comparison(summary, metrics=("recall@20", "ndcg@20")):
    """Left: each model's metrics (mean ± std over seeds) as grouped bars. Right: recall@20
    against mean training seconds (log scale). ``summary``: ``gnnedu.bench.summarize`` rows."""
    import numpy as np
    from matplotlib.patches import Patch

    fig, (left, right) = new_figure(1, 2, figsize=(11.0, 4.6))
    names = [s["model"] for s in summary]
    colors = [model_color(name) for name in names]
    x = np.arange(len(names))
    width = 0.8 / len(metrics)
    hatches = ["", "///", "..", "xx"]
    for j, m in enumerate(metrics):  # one colour per model; one hatch per metric
        left.bar(x + (j - (len(metrics) - 1) / 2) * width, [s[m] for s in summary], width,
                 yerr=[s[f"{m}_std"] for s in summary], capsize=2, color=colors,
                 hatch=hatches[j % len(hatches)], edgecolor="white", linewidth=0)
    left.set_xticks(x, names, rotation=30, ha="right", rotation_mode="anchor")
    left.set_ylim(0.0, 1.2 * max(s[m] + s[f"{m}_std"] for s in summary for m in metrics))
    left.set_ylabel("test score (P1, mean ± std)")
    left.set_title("Every model on protocol P1")
    left.legend([Patch(facecolor="#777777", hatch=hatches[j % len(hatches)], edgecolor="white")
                 for j in range(len(metrics))], list(metrics), fontsize=8, loc="upper left")
    left.grid(axis="y", alpha=0.3)
    for s, color in zip(summary, colors):  # a legend, not labels: close points stay readable
        seconds = max(float(s["train_seconds"]), 1e-2)
        right.errorbar(seconds, s["recall@20"], yerr=s["recall@20_std"], marker="o", capsize=2,
                       color=color, linestyle="none", label=s["model"])
    right.set_xscale("log")
    right.set_xlabel("training seconds (log scale, at least 0.01; shared machine, noisy)")
    right.set_ylabel("test recall@20")
    right.set_title("Accuracy against training time")
    right.legend(fontsize=8, loc="lower right")
    right.grid(alpha=0.3)
    return fig


# ---------------------------------------------------------------------------------------------
# Notebook 08: metrics by user activity, popularity bias
# ---------------------------------------------------------------------------------------------


def draw_buckets(tables: Mapping, metric: str = "recall@20",
                 figsize=(6.8, 4.0)) -> Figure:
    """Grouped bars: ``metric`` per activity bucket, one bar per model (``tables``: name ->
    :func:`metrics_by_bucket` output); the number of users per bucket under each group."""
    fig, ax = new_figure(figsize=figsize)
    names = list(tables)
    buckets = list(next(iter(tables.values())).index)
    width = 0.8 / max(1, len(names))
    x = np.arange(len(buckets))
    for i, name in enumerate(names):
        vals = tables[name].reindex(buckets)[metric].to_numpy()
        ax.bar(x + (i - (len(names) - 1) / 2) * width, vals, width, label=name,
               color=model_color(name))
    users = next(iter(tables.values())).reindex(buckets)["users"].to_numpy()
    ax.set_xticks(x, [f"{b}\n({u} users)" for b, u in zip(buckets, users)])
    ax.set_xlabel("training interactions per user")
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} by user activity: cold (left) to heavy (right)")
    ax.legend(fontsize=8)
    return fig


def draw_bias(table, k: int = 20, figsize=(6.8, 4.2)) -> Figure:
    """Each model as a point: coverage@k against ARP@k (average recommended popularity); the
    marker area grows with recall@k, which the legend lists."""
    fig, ax = new_figure(figsize=figsize)
    rec = table[f"recall@{k}"].to_numpy()
    sizes = 40 + 600 * (rec / max(rec.max(), 1e-12)) ** 2
    for (name, row), s in zip(table.iterrows(), sizes):
        ax.scatter(row[f"arp@{k}"], row[f"coverage@{k}"], s=s, alpha=0.7, color=model_color(name),
                   label=f"{name} (recall@{k} {row[f'recall@{k}']:.3f})")
    ax.set_xlabel(f"ARP@{k}: mean training popularity of recommended items")
    ax.set_ylabel(f"coverage@{k}: share of the catalogue recommended")
    ax.set_title("Popularity bias against catalogue coverage")
    ax.margins(0.15)
    legend = ax.legend(fontsize=8, loc="best")
    for handle in legend.legend_handles:
        handle.set_sizes([50])
    return fig
