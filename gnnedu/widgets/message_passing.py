"""The message-passing explorers of notebooks 02 and 03, each a thin layer over pure functions
(the pattern of :mod:`gnnedu.widgets.base`).

Every explorer follows the same pattern:

* a pure ``*_state(...)`` function computes what is shown (tested in pytest);
* a ``draw_*`` function turns that state into a labelled ``matplotlib`` Figure;
* the class only wires core ipywidgets controls to them. Its controls are attributes
  (``stepper.round_slider.value = 2`` moves a slider, from pytest or a notebook), and after any
  change ``.state`` and ``.figure`` hold the new result and ``.image`` (an ``ipywidgets.Image``)
  shows the figure as PNG. ``.widget`` is the ``VBox`` that is displayed; the explorer object
  itself displays as that box.

The stepper asks before it tells: with "predict first" on, the value of the current sub-step
stays hidden until the learner has typed a prediction and pressed "reveal"
(:func:`check_prediction` compares the two; :func:`stepper_state` with ``revealed=False`` is the
hidden view).

Every box carries the CSS class ``gnnedu-widget`` plus one class naming the explorer
(``gnnedu-stepper``, ``gnnedu-receptive-field``, ``gnnedu-aggregator``, ``gnnedu-attention``),
so a browser test can find it.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import ipywidgets as widgets
import networkx as nx
import numpy as np
from matplotlib.figure import Figure

from gnnedu import mp, plot
from gnnedu.widgets.base import Explorer

FIGURE_DPI = 80


def graph_adjacency(graph: nx.Graph) -> np.ndarray:
    """0/1 adjacency of a graph whose nodes are ``0..n-1`` (edge weights ignored)."""
    nodes = sorted(graph.nodes)
    if nodes != list(range(len(nodes))):
        raise ValueError("graph nodes must be the integers 0..n-1 (use nx.convert_node_labels_to_"
                         "integers first)")
    return nx.to_numpy_array(graph, nodelist=nodes, weight=None)


class _ImageExplorer(Explorer):
    """An explorer whose view is a row of controls above its figure (shown as a PNG image)."""

    def _init_view(self, controls: Sequence[widgets.Widget], side: widgets.Widget | None = None):
        self.image = widgets.Image(format="png")
        self.image.add_class("gnnedu-figure")
        body = [self.image] if side is None else [self.image, side]
        self._init_box([widgets.HBox(list(controls)), widgets.HBox(body)])
        for control in controls:
            control.observe(self._on_change, names="value")

    def _show(self, fig: Figure):
        self.figure = fig
        self.image.value = plot.figure_to_png(fig, dpi=FIGURE_DPI)
        self.redraws += 1


# ---------------------------------------------------------------------------------------------
# Notebook 02: the message-passing stepper (predict, then reveal)
# ---------------------------------------------------------------------------------------------

# What the learner predicts after each sub-step (gather computes nothing: it is never hidden).
PREDICTED = {"aggregate": "m", "transform": "W m", "bias": "W m + b", "activate": "h"}
PREDICTION_TOLERANCE = 0.01  # a typed component counts as right within this distance


def stepper_state(traces, h0, rnd: int, substep: str, node: int, w, b, names=None,
                  decimals: int = 4, revealed: bool = True) -> dict:
    """What the stepper shows for round ``rnd`` (1-based), ``substep`` and the selected ``node``.

    ``traces`` is ``mp.trace(...)``. Returns ``round``, ``substep``, ``node``, ``sources`` (who
    sends to ``node``), ``vectors`` (every node's vector after ``substep`` of this round; for
    ``gather`` the vectors being sent, ``h^(rnd-1)``), ``answer`` (the selected node's vector
    after ``substep``, the value a learner predicts; None for ``gather``), ``hidden`` (True when
    ``answer`` is still to be predicted: ``revealed`` is False and ``substep`` is not
    ``gather``) and ``text`` (the arithmetic for ``node`` up to ``substep``, from
    :func:`gnnedu.mp.arithmetic`; while hidden, up to the sub-step before, then a question).
    """
    if not 1 <= rnd <= len(traces):
        raise ValueError(f"round must be in 1..{len(traces)}, got {rnd}")
    if substep not in mp.SUBSTEPS:
        raise ValueError(f"substep must be one of {mp.SUBSTEPS}, got {substep!r}")
    steps = traces[rnd - 1]
    if not 0 <= node < len(steps):
        raise ValueError(f"node must be in 0..{len(steps) - 1}, got {node}")
    if substep == "gather":
        prev = np.asarray(h0, dtype=float) if rnd == 1 else mp.trace_matrix(
            traces[rnd - 2], "activate")
        vectors = prev
    else:
        vectors = mp.trace_matrix(steps, substep)
    step = steps[node]
    hidden = not revealed and substep != "gather"
    if hidden:
        before = mp.SUBSTEPS[mp.SUBSTEPS.index(substep) - 1]
        name = str(names[node]) if names is not None else str(node)
        what = PREDICTED[substep] if substep != "activate" else f"h^({rnd})_{name}"
        text = (mp.arithmetic(step, w, b, names, upto=before, decimals=decimals)
                + f"\n{mp.SUBSTEPS.index(substep) + 1} {substep:<9}: {what} = ?"
                + "\n\nYour turn: predict it, then press 'reveal'.")
    else:
        text = mp.arithmetic(step, w, b, names, upto=substep, decimals=decimals)
    return {
        "round": rnd,
        "substep": substep,
        "node": node,
        "sources": [int(j) for j in step.sources],
        "vectors": vectors,
        "answer": None if substep == "gather" else step.value(substep),
        "hidden": hidden,
        "text": text,
    }


def parse_vector(text: str) -> np.ndarray:
    """Numbers typed by a learner, e.g. ``"0.5, 0.5, 0.65"`` or ``"[0.5 0.5 0.65]"``.

    Raises ValueError with a one-line message when the text holds something else.
    """
    cleaned = text.replace("[", " ").replace("]", " ").replace(",", " ").split()
    if not cleaned:
        raise ValueError("type the numbers of the vector, e.g. 0.5, 0.5, 0.65")
    try:
        return np.array([float(x) for x in cleaned])
    except ValueError:
        raise ValueError(f"could not read {text.strip()!r} as numbers; type them separated by "
                         "commas, e.g. 0.5, 0.5, 0.65") from None


def check_prediction(guess: str, answer, decimals: int = 4,
                     tol: float = PREDICTION_TOLERANCE) -> dict:
    """Compare a typed prediction with the true vector ``answer``.

    Returns ``ok`` (True: every component within ``tol``; False: wrong or unreadable; None: no
    prediction typed) and ``message``, one line that always ends with the true value.
    """
    value = plot.format_vector(answer, decimals)
    if not guess.strip():
        return {"ok": None, "message": f"no prediction typed; the value is {value}"}
    try:
        typed = parse_vector(guess)
    except ValueError as err:
        return {"ok": False, "message": f"{err}; the value is {value}"}
    answer = np.asarray(answer, dtype=float)
    if typed.shape != answer.shape:
        return {"ok": False, "message": f"you typed {typed.size} numbers but the vector has "
                                        f"{answer.size} components; the value is {value}"}
    off = np.flatnonzero(np.abs(typed - answer) > tol)
    if off.size == 0:
        return {"ok": True, "message": f"right: the value is {value}"}
    first = int(off[0])
    return {"ok": False, "message": (f"not quite: {off.size} of {answer.size} components off "
                                     f"(component {first}: you typed {typed[first]:g}); "
                                     f"the value is {value}")}


def draw_stepper(graph: nx.Graph, pos: Mapping, state: dict, names=None, decimals: int = 4
                 ) -> Figure:
    """The graph with the messages into the selected node as arrows and every node's vector
    (after the current sub-step) written next to it; while ``state["hidden"]`` every box shows
    ``?`` (the other nodes' values would give the rule away)."""
    node = state["node"]
    labels = {n: str(names[n]) if names is not None else str(n) for n in graph.nodes}
    substep = state["substep"]
    what = f"h^({state['round'] - 1})" if substep == "gather" else f"'{substep}'"
    boxes = (f"predict {labels[node]}'s vector after {what}" if state.get("hidden")
             else f"boxes: every node's vector after {what}")
    fig = plot.draw_graph(
        graph, pos,
        title=(f"Round {state['round']}, {substep}: node {labels[node]}\n"
               f"{boxes}; arrows: messages into {labels[node]}"),
        node_color=[plot.ITEM_COLOR if n == node else plot.USER_COLOR for n in graph.nodes],
        labels=labels, highlight=[node], figsize=(6.0, 4.8), node_size=700, font_size=11,
    )
    ax = fig.axes[0]
    ax.title.set_fontsize(10)
    arrow_labels = None
    if substep == "gather":
        arrow_labels = {j: plot.format_vector(state["vectors"][j], decimals)
                        for j in state["sources"]}
    active = substep in ("gather", "aggregate")
    plot.draw_messages(ax, pos, state["sources"], node, labels=arrow_labels,
                       color=plot.HIGHLIGHT_COLOR if active else "#bbbbbb")
    before = len(ax.texts)
    plot.annotate_vectors(ax, pos, {n: state["vectors"][n] for n in graph.nodes},
                          decimals=decimals)
    if state.get("hidden"):
        unknown = "[" + ", ".join("?" * len(state["vectors"][node])) + "]"
        for box in ax.texts[before:]:
            box.set_text(unknown)
        ax.texts[before + list(graph.nodes).index(node)].set_color(plot.HIGHLIGHT_COLOR)
    ax.margins(0.3)
    return fig


class MessagePassingStepper(_ImageExplorer):
    """Step through graph-convolution rounds sub-step by sub-step (notebook 02), predicting
    each value before it is shown.

    Controls: ``round_slider`` (IntSlider "round"), ``substep_slider`` (SelectionSlider
    "sub-step" over ``mp.SUBSTEPS``), ``node_dropdown`` (Dropdown "node"), ``predict_checkbox``
    (Checkbox "predict first"). Beside the figure, ``arithmetic`` (an HTML widget) writes out
    the selected node's numbers. With "predict first" on, the value of the current sub-step is
    hidden (``?``) until the learner presses ``reveal_button``; what they typed into
    ``prediction`` (a Text widget) is then checked (:func:`check_prediction`) and the verdict
    shown in ``feedback``. Moving any control hides the next value again.
    """

    css_class = "gnnedu-stepper"

    def __init__(self, graph: nx.Graph, h0, w, b, *, rounds: int = 2, how: str = "mean",
                 self_loops: bool = False, names=None, pos=None, decimals: int = 4,
                 substep: str = "aggregate", predict: bool = True):
        self.graph = graph
        self.adj = graph_adjacency(graph)
        self.h0 = np.asarray(h0, dtype=float)
        self.w, self.b = np.asarray(w, dtype=float), np.asarray(b, dtype=float)
        self.names = list(names) if names is not None else [
            str(graph.nodes[n].get("label", n)) for n in sorted(graph.nodes)]
        self.pos = pos if pos is not None else plot.spring_positions(graph)
        self.decimals = decimals
        self.traces = mp.trace(self.h0, self.adj, self.w, self.b, rounds, how, self_loops)
        self.round_slider = widgets.IntSlider(value=1, min=1, max=rounds, description="round",
                                              continuous_update=False)
        self.substep_slider = widgets.SelectionSlider(options=list(mp.SUBSTEPS), value=substep,
                                                      description="sub-step",
                                                      continuous_update=False)
        self.node_dropdown = widgets.Dropdown(options=[(n, i) for i, n in enumerate(self.names)],
                                              value=0, description="node")
        self.predict_checkbox = widgets.Checkbox(value=predict, description="predict first")
        self.arithmetic = widgets.HTML()
        self.arithmetic.add_class("gnnedu-arithmetic")
        self.prediction = widgets.Text(placeholder="e.g. 0.5, 0.5, 0.65",
                                       description="prediction")
        self.prediction.add_class("gnnedu-prediction")
        self.reveal_button = widgets.Button(description="reveal")
        self.reveal_button.add_class("gnnedu-reveal")
        self.reveal_button.on_click(self.reveal)
        self.feedback = widgets.HTML()
        self.feedback.add_class("gnnedu-feedback")
        self.revealed = False
        self.result: dict | None = None  # the last check_prediction verdict
        side = widgets.VBox([self.arithmetic,
                             widgets.HBox([self.prediction, self.reveal_button]),
                             self.feedback])
        self._init_view([self.round_slider, self.substep_slider, self.node_dropdown,
                         self.predict_checkbox], side=side)
        self.update()

    def _on_change(self, change=None):
        # a new position: its value is hidden again and the old verdict no longer applies
        self.revealed = False
        self.result = None
        self.prediction.value = ""
        self.feedback.value = ""
        super()._on_change(change)

    def reveal(self, _button=None):
        """Check the typed prediction against the hidden value, then show the value."""
        if self.state.get("hidden"):
            self.result = check_prediction(self.prediction.value, self.state["answer"],
                                           self.decimals)
            mark = {True: "&#10003; ", False: "&#10007; ", None: ""}[self.result["ok"]]
            self.feedback.value = f"<b>{mark}</b>{html.escape(self.result['message'])}"
        self.revealed = True
        self.update()

    def update(self):
        revealed = self.revealed or not self.predict_checkbox.value
        self.state = stepper_state(self.traces, self.h0, self.round_slider.value,
                                   self.substep_slider.value, self.node_dropdown.value,
                                   self.w, self.b, self.names, self.decimals, revealed=revealed)
        asking = self.state["hidden"]
        self.prediction.disabled = self.reveal_button.disabled = not asking
        self.arithmetic.value = (
            '<pre style="font-size:12px;line-height:1.35">'
            + html.escape(self.state["text"]) + "</pre>")
        self._show(draw_stepper(self.graph, self.pos, self.state, self.names, self.decimals))


# ---------------------------------------------------------------------------------------------
# Notebook 03: receptive fields
# ---------------------------------------------------------------------------------------------


def receptive_field_state(adj, node: int, k: int, self_loops: bool = True) -> dict:
    """``field``: the nodes whose input reaches ``node`` in ``k`` rounds
    (:func:`gnnedu.mp.receptive_field`); ``distances``: hop distance of every node from
    ``node``; ``size``: ``len(field)``."""
    field = mp.receptive_field(adj, node, k, self_loops)
    return {
        "node": node,
        "k": k,
        "self_loops": self_loops,
        "field": [int(j) for j in field],
        "distances": mp.hop_distances(adj, node),
        "size": int(len(field)),
    }


def draw_receptive_field(graph: nx.Graph, pos: Mapping, state: dict, title_prefix: str = ""
                         ) -> Figure:
    """Nodes in the receptive field coloured by hop distance; the others grey."""
    field = set(state["field"])
    dist = state["distances"].astype(float)
    n = graph.number_of_nodes()
    loops = "with" if state["self_loops"] else "without"
    label = graph.nodes[state["node"]].get("label", state["node"])
    title = (f"{title_prefix}{state['size']} of {n} nodes reach {label} in k={state['k']} "
             f"layers ({loops} self-loops)")
    top = max(1, int(dist.max()))
    fig = plot.draw_graph(
        graph, pos, title=title, node_color=np.where(dist < 0, np.nan, dist), cmap="plasma_r",
        vmin=0, vmax=top, colorbar_label="hops from the chosen node",
        highlight=[state["node"]], dim=[j for j in graph.nodes if j not in field],
        node_size=360 if n > 20 else 700, font_size=8 if n > 20 else 9, figsize=(7.0, 5.0),
    )
    if len(fig.axes) > 1:  # whole hops on the colour bar
        fig.axes[1].set_yticks(range(top + 1))
    return fig


class ReceptiveFieldExplorer(_ImageExplorer):
    """Which nodes can influence a chosen node after ``k`` layers (notebook 03).

    Controls: ``graph_dropdown`` (Dropdown "graph"), ``node_dropdown`` (Dropdown "node"),
    ``k_slider`` (IntSlider "layers k"), ``self_loops_checkbox`` (Checkbox "self-loops").
    """

    css_class = "gnnedu-receptive-field"

    def __init__(self, graphs: Mapping[str, nx.Graph], positions: Mapping[str, Mapping] | None
                 = None, *, max_k: int = 4, k: int = 2, self_loops: bool = True):
        if not graphs:
            raise ValueError("need at least one graph")
        self.graphs = dict(graphs)
        self.adjs = {name: graph_adjacency(g) for name, g in self.graphs.items()}
        self.positions = {name: (positions or {}).get(name) or plot.spring_positions(g)
                          for name, g in self.graphs.items()}
        first = next(iter(self.graphs))
        self.graph_dropdown = widgets.Dropdown(options=list(self.graphs), value=first,
                                               description="graph")
        self.node_dropdown = widgets.Dropdown(options=self._node_options(first), value=0,
                                              description="node")
        self.k_slider = widgets.IntSlider(value=k, min=0, max=max_k, description="layers k",
                                          continuous_update=False)
        self.self_loops_checkbox = widgets.Checkbox(value=self_loops, description="self-loops")
        self.graph_dropdown.observe(self._on_graph, names="value")
        self._init_view([self.graph_dropdown, self.node_dropdown, self.k_slider,
                         self.self_loops_checkbox])
        self.update()

    def _node_options(self, name):
        g = self.graphs[name]
        return [(f"{n}: {g.nodes[n]['label']}" if "label" in g.nodes[n] else str(n), n)
                for n in sorted(g.nodes)]

    def _on_graph(self, change):
        with self._hold():
            self.node_dropdown.options = self._node_options(change["new"])
            self.node_dropdown.value = 0

    def update(self):
        name = self.graph_dropdown.value
        self.state = receptive_field_state(self.adjs[name], self.node_dropdown.value,
                                           self.k_slider.value, self.self_loops_checkbox.value)
        self.state["graph"] = name
        self._show(draw_receptive_field(self.graphs[name], self.positions[name], self.state,
                                        title_prefix=f"{name}: "))


# ---------------------------------------------------------------------------------------------
# Notebook 03: aggregators, self-loops and features layer by layer
# ---------------------------------------------------------------------------------------------


@dataclass
class GraphCase:
    """A graph with starting features for :class:`AggregatorExplorer`.

    ``features`` is (n, d) with column names ``feature_names``; ``order`` lists the nodes in
    the order of the heatmap rows (default ``0..n-1``).
    """

    graph: nx.Graph
    features: np.ndarray
    feature_names: Sequence[str]
    order: Sequence[int] | None = None

    def __post_init__(self):
        self.features = np.asarray(self.features, dtype=float)
        n = self.graph.number_of_nodes()
        if self.features.shape != (n, len(self.feature_names)):
            raise ValueError(f"features must be ({n}, {len(self.feature_names)}), "
                             f"got {self.features.shape}")
        if self.order is None:
            self.order = list(range(n))
        elif sorted(self.order) != list(range(n)):
            raise ValueError("order must be a permutation of 0..n-1")


def aggregator_state(adj, h0, how: str, self_loops: bool, depth: int) -> dict:
    """Features after ``0..depth`` rounds of aggregation only (:func:`gnnedu.mp.propagate_
    features`), each layer also scaled to a maximum absolute value of 1 (``scaled``, so a sum
    aggregator's growth does not hide the pattern), with the :func:`gnnedu.mp.spread` of each
    layer."""
    layers = mp.propagate_features(h0, adj, how, depth, self_loops)
    scaled = []
    for h in layers:
        top = float(np.abs(h).max())
        scaled.append(h / top if top > 0 else h.copy())
    return {
        "how": how,
        "self_loops": self_loops,
        "depth": depth,
        "layers": layers,
        "scaled": scaled,
        "spread": np.array([mp.spread(h) for h in layers]),
    }


def draw_aggregator(case: GraphCase, state: dict, title_prefix: str = "") -> Figure:
    """One heatmap per feature: rows are nodes (in ``case.order``), columns are layers."""
    order = list(case.order)
    labels = [str(case.graph.nodes[n].get("label", n)) for n in order]
    mats = [np.stack([h[order, f] for h in state["scaled"]], axis=1)
            for f in range(len(case.feature_names))]
    loops = "with" if state["self_loops"] else "without"
    n = len(order)
    fig = plot.heatmap_row(
        mats, titles=list(case.feature_names), row_labels=labels,
        col_labels=list(range(state["depth"] + 1)), xlabel="layer", ylabel="node",
        suptitle=(f"{title_prefix}{mp.AGGREGATOR_LABELS[state['how']]}, {loops} self-loops; "
                  f"spread at layer {state['depth']}: {state['spread'][-1]:.3f}"),
        colorbar_label="value / layer max", annotate=False, cmap="magma", shared_scale=True,
        figsize=(8.0, min(7.5, 1.8 + 0.17 * n)),
    )
    return fig


class AggregatorExplorer(_ImageExplorer):
    """Node features layer by layer under a chosen aggregator (notebook 03).

    Controls: ``graph_dropdown`` (Dropdown "graph"), ``aggregator_dropdown`` (Dropdown
    "aggregator": sum, mean, max, article, sym), ``self_loops_checkbox`` (Checkbox
    "self-loops"), ``depth_slider`` (IntSlider "layers").
    """

    css_class = "gnnedu-aggregator"

    def __init__(self, cases: Mapping[str, GraphCase], *, max_depth: int = 10, depth: int = 4,
                 how: str = "mean", self_loops: bool = True):
        if not cases:
            raise ValueError("need at least one graph case")
        self.cases = dict(cases)
        self.adjs = {name: graph_adjacency(c.graph) for name, c in self.cases.items()}
        self.graph_dropdown = widgets.Dropdown(options=list(self.cases), description="graph")
        self.aggregator_dropdown = widgets.Dropdown(
            options=[(f"{k}: {mp.AGGREGATOR_LABELS[k]}", k) for k in mp.AGGREGATORS], value=how,
            description="aggregator")
        self.self_loops_checkbox = widgets.Checkbox(value=self_loops, description="self-loops")
        self.depth_slider = widgets.IntSlider(value=depth, min=1, max=max_depth,
                                              description="layers", continuous_update=False)
        self._init_view([self.graph_dropdown, self.aggregator_dropdown,
                         self.self_loops_checkbox, self.depth_slider])
        self.update()

    def update(self):
        name = self.graph_dropdown.value
        case = self.cases[name]
        self.state = aggregator_state(self.adjs[name], case.features,
                                      self.aggregator_dropdown.value,
                                      self.self_loops_checkbox.value, self.depth_slider.value)
        self.state["graph"] = name
        self._show(draw_aggregator(case, self.state, title_prefix=f"{name}: "))


# ---------------------------------------------------------------------------------------------
# Notebook 03: attention as aggregation (one or several GAT heads)
# ---------------------------------------------------------------------------------------------

UNIFORM_PRESET = "a = 0 (the mean with self-loops)"
HEAD_NOISE = 1.0   # heads 2..K: the preset plus Gaussian noise of this size (times the scale)
HEAD_SEED = 0      # the noise of the extra heads is drawn from this seed: same picture every run


def attention_presets(feature_names: Sequence[str]) -> dict[str, np.ndarray]:
    """Preset directions for the sender half of the attention vector, one per feature and sign:
    ``"+ name"`` favours senders with a large value of that feature, ``"- name"`` a small one,
    and :data:`UNIFORM_PRESET` (all zeros) is the mean. Values have unit length."""
    d = len(feature_names)
    presets = {UNIFORM_PRESET: np.zeros(d)}
    for f, name in enumerate(feature_names):
        for sign in (1.0, -1.0):
            direction = np.zeros(d)
            direction[f] = sign
            presets[f"{'+' if sign > 0 else '-'} {name}"] = direction
    return presets


def head_vectors(direction, scale: float, heads: int, noise: float = HEAD_NOISE,
                 seed: int = HEAD_SEED) -> list[np.ndarray]:
    """The attention vectors ``a = (a_target || a_source)`` of ``heads`` heads.

    Head 1 is ``scale * (0 || direction)``: it scores the senders only. Heads 2..K add
    ``scale * noise`` times standard Gaussian numbers to all ``2d`` entries (drawn from
    ``seed``), standing in for heads that learned different vectors.
    """
    if heads < 1:
        raise ValueError(f"heads must be >= 1, got {heads}")
    direction = np.asarray(direction, dtype=float)
    base = scale * np.concatenate([np.zeros_like(direction), direction])
    rng = np.random.default_rng(seed)
    extra = rng.normal(size=(heads - 1, base.size))
    return [base] + [base + scale * noise * e for e in extra]


def attention_state(adj, h, direction, scale: float, heads: int, node: int,
                    noise: float = HEAD_NOISE, seed: int = HEAD_SEED) -> dict:
    """What the attention explorer shows.

    ``h`` are the node features (``W`` is the identity, so ``z = h``). Returns ``vectors`` (one
    attention vector per head, :func:`head_vectors`), ``alphas`` (``heads x n x n``, from
    :func:`gnnedu.mp.head_coefficients`), ``alpha`` (their mean: averaging the heads' outputs
    propagates with it), ``ratio`` (``alpha`` times the neighbourhood size ``|N(i)| + 1``: 1
    where a message weighs what the mean gives it), the chosen ``node``, its ``sources``
    (neighbours and itself), ``head_weights`` (``heads x sources``) and ``weights`` (the
    average) for that node, and ``entropy_heads`` / ``entropy_mean``: the mean normalised
    entropy (:func:`gnnedu.mp.attention_entropy`) of single heads and of the average, 1 for
    the mean aggregator.
    """
    a = mp.check_adjacency(adj)
    n = a.shape[0]
    if not 0 <= node < n:
        raise ValueError(f"node must be in 0..{n - 1}, got {node}")
    vectors = head_vectors(direction, scale, heads, noise, seed)
    alphas = mp.head_coefficients(h, a, vectors)
    alpha = alphas.mean(axis=0)
    size = mp.degrees(a, self_loops=True)
    sources = mp.neighbours(a, node, self_loops=True)
    return {
        "scale": float(scale),
        "heads": int(heads),
        "vectors": vectors,
        "alphas": alphas,
        "alpha": alpha,
        "ratio": alpha * size[:, None],
        "node": int(node),
        "sources": [int(j) for j in sources],
        "head_weights": alphas[:, node, sources],
        "weights": alpha[node, sources],
        "entropy_heads": float(np.mean([mp.attention_entropy(x).mean() for x in alphas])),
        "entropy_mean": float(mp.attention_entropy(alpha).mean()),
    }


def edge_attention_widths(graph: nx.Graph, ratio, base: float = 1.5, top: float = 8.0
                          ) -> list[float]:
    """Line widths in ``graph.edges`` order: ``base`` times the mean of the two directions'
    ``ratio`` (``alpha`` relative to the mean aggregator), clipped to ``[0.2, top]``."""
    r = np.asarray(ratio, dtype=float)
    return [float(np.clip(base * (r[u, v] + r[v, u]) / 2, 0.2, top)) for u, v in graph.edges]


def draw_attention(case: GraphCase, pos: Mapping, state: dict, title_prefix: str = "",
                   preset: str = "") -> Figure:
    """Left: the graph, each edge as wide as its averaged attention relative to the mean (both
    directions averaged). Right: the weights of the messages into the chosen node, per head
    (grey) and averaged over heads (coloured), with the mean aggregator's weight dashed."""
    g = case.graph
    node = state["node"]
    labels = {n: str(g.nodes[n].get("label", n)) for n in g.nodes}
    fig, (ax_g, ax_b) = plot.new_figure(1, 2, figsize=(11.0, 4.6))
    big = g.number_of_nodes() > 20
    plot.draw_graph(g, pos, ax=ax_g, labels=labels, highlight=[node],
                    edge_width=edge_attention_widths(g, state["ratio"]),
                    node_color=[plot.ITEM_COLOR if n == node else plot.USER_COLOR
                                for n in g.nodes],
                    node_size=260 if big else 600, font_size=7 if big else 9,
                    title=(f"{title_prefix}{preset}, |a| = {state['scale']:g}, "
                           f"{state['heads']} head(s)\nedge width: attention / mean weight"))
    ax_g.title.set_fontsize(10)
    src = state["sources"]
    xs = np.arange(len(src))
    k = state["heads"]
    if k > 1:
        for hw in state["head_weights"]:
            ax_b.plot(xs, hw, "o", color="#999999", markersize=4, alpha=0.7)
        ax_b.plot([], [], "o", color="#999999", markersize=4, label="one head")
    ax_b.bar(xs, state["weights"], color=plot.HIGHLIGHT_COLOR, alpha=0.85,
             label="average of the heads" if k > 1 else "attention")
    ax_b.axhline(1.0 / len(src), color="black", linestyle="--", linewidth=1,
                 label="mean: 1 / (|N(i)| + 1)")
    ax_b.set_xticks(xs, [labels[j] for j in src], rotation=90 if len(src) > 8 else 0,
                    fontsize=7 if len(src) > 8 else 9)
    ax_b.set(ylim=(0, 1), xlabel=f"sender j (into {labels[node]}, self included)",
             ylabel="alpha_ij",
             title=(f"messages into {labels[node]}\nentropy / max: heads "
                    f"{state['entropy_heads']:.2f}, average {state['entropy_mean']:.2f}"))
    ax_b.title.set_fontsize(10)
    ax_b.legend(fontsize=8, loc="upper right")
    return fig


class AttentionExplorer(_ImageExplorer):
    """Attention weights of one or several GAT heads on a graph with features (notebook 03).

    Controls: ``graph_dropdown`` (Dropdown "graph"), ``preset_dropdown`` (Dropdown "a": a
    direction from :func:`attention_presets` for the chosen graph's features),
    ``scale_slider`` (FloatSlider "|a|"), ``heads_slider`` (IntSlider "heads"),
    ``node_dropdown`` (Dropdown "node"). ``W`` is the identity: the features themselves are
    scored.
    """

    css_class = "gnnedu-attention"

    def __init__(self, cases: Mapping[str, GraphCase], positions: Mapping[str, Mapping] | None
                 = None, *, scale: float = 4.0, max_scale: float = 10.0, heads: int = 1,
                 max_heads: int = 8, preset: str | None = None, node: int = 0):
        if not cases:
            raise ValueError("need at least one graph case")
        self.cases = dict(cases)
        self.adjs = {name: graph_adjacency(c.graph) for name, c in self.cases.items()}
        self.positions = {name: (positions or {}).get(name) or plot.spring_positions(c.graph)
                          for name, c in self.cases.items()}
        first = next(iter(self.cases))
        presets = attention_presets(self.cases[first].feature_names)
        self.graph_dropdown = widgets.Dropdown(options=list(self.cases), value=first,
                                               description="graph")
        self.preset_dropdown = widgets.Dropdown(
            options=list(presets), value=preset if preset is not None else list(presets)[1],
            description="a")
        self.scale_slider = widgets.FloatSlider(value=scale, min=0.0, max=max_scale, step=0.5,
                                                description="|a|", continuous_update=False)
        self.heads_slider = widgets.IntSlider(value=heads, min=1, max=max_heads,
                                              description="heads", continuous_update=False)
        self.node_dropdown = widgets.Dropdown(options=self._node_options(first), value=node,
                                              description="node")
        self.graph_dropdown.observe(self._on_graph, names="value")
        self._init_view([self.graph_dropdown, self.preset_dropdown, self.scale_slider,
                         self.heads_slider, self.node_dropdown])
        self.update()

    def _node_options(self, name):
        g = self.cases[name].graph
        return [(f"{n}: {g.nodes[n]['label']}" if "label" in g.nodes[n] else str(n), n)
                for n in sorted(g.nodes)]

    def _on_graph(self, change):
        presets = list(attention_presets(self.cases[change["new"]].feature_names))
        with self._hold():
            self.preset_dropdown.options = presets
            self.preset_dropdown.value = presets[1]
            self.node_dropdown.options = self._node_options(change["new"])
            self.node_dropdown.value = 0

    def update(self):
        name = self.graph_dropdown.value
        case = self.cases[name]
        preset = self.preset_dropdown.value
        direction = attention_presets(case.feature_names)[preset]
        self.state = attention_state(self.adjs[name], case.features, direction,
                                     self.scale_slider.value, self.heads_slider.value,
                                     self.node_dropdown.value)
        self.state.update(graph=name, preset=preset)
        self._show(draw_attention(case, self.positions[name], self.state,
                                  title_prefix=f"{name}: ", preset=preset))
