"""The recommendation explorer of notebook 08: its tables, drawings and widget.

The maths (profiles, fold-in, exact score decompositions) is in :mod:`gnnedu.explain`; the
pure functions here turn it into tables and a state dict, the ``draw_*`` functions turn those
into labelled figures, and :class:`RecommendationExplorer` only wires core ipywidgets to them.

API summary
-----------
- ``profile_label(ml, profile)``: "user 1", "user 1 (edited history)" or "new user".
- ``history_table``, ``recommendation_table``, ``compare_recommendations``,
  ``explanation_tables``: DataFrames of a profile's history, its top-K with a one-line
  explanation each, what an edit changed, and the split of one score.
- ``primary_genre(ml)``, ``embedding_map_state(...)``: the items on their first two principal
  axes (:func:`gnnedu.plot.pca_2d`) with the user, history and recommendations.
- ``user_view_state(model, ml, train, user, remove, add, k, explain_rank)``: everything the
  widget shows, as one dict.
- ``draw_explanation``, ``draw_embedding_map``, ``draw_user_view``: the figures.
- ``RecommendationExplorer``: the widget.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from gnnedu import plot
from gnnedu.explain import (
    Profile,
    check_decomposition,
    fold_in_user,
    frozen_embeddings,
    item_index_set,
    make_profile,
    score_decomposition,
    top_k,
)
from gnnedu.widgets.base import Explorer

__all__ = [
    "profile_label", "history_table", "recommendation_table", "compare_recommendations",
    "explanation_tables", "primary_genre", "embedding_map_state", "user_view_state",
    "draw_explanation", "draw_embedding_map", "draw_user_view", "RecommendationExplorer",
    "MAP_GENRES", "EMPTY_MESSAGE", "GENRE_COLORS",
]

# Genres that get their own colour on the embedding map (the rest are "other").
MAP_GENRES = ("Drama", "Comedy", "Action", "Thriller", "Romance", "Children's", "Horror",
              "Sci-Fi")
EMPTY_MESSAGE = ("No movies in the history: choose some in 'add' (Ctrl- or Shift-click to "
                 "choose several).")


def profile_label(ml, profile: Profile) -> str:
    """``"user 1"`` (MovieLens id), ``"user 1 (edited history)"`` or ``"new user"``."""
    if profile.user is None:
        return "new user"
    who = f"user {int(ml.users['user_id'].iloc[profile.user])}"
    return who + (" (edited history)" if profile.edited else "")


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------


def _titles(ml, items) -> list[str]:
    return [str(t) for t in ml.items["title"].to_numpy()[np.asarray(items, dtype=np.int64)]]


def _genres(ml, items) -> list[str]:
    flags = ml.items[list(ml.genres)].to_numpy()[np.asarray(items, dtype=np.int64)]
    return ["|".join(g for g, f in zip(ml.genres, row) if f) for row in flags]


def history_table(ml, train: pd.DataFrame, user: int | None = None, remove: Sequence = (),
                  add: Sequence = ()) -> pd.DataFrame:
    """The history of ``user`` (from ``train``, best rated first) with a ``status`` column:
    ``rated``, ``removed`` (what-if) or ``added`` (what-if / new user, no rating)."""
    removed = {int(i) for i in remove}
    added = [int(i) for i in add]
    if user is None:
        rows = pd.DataFrame({"item": pd.Series([], dtype=np.int64),
                             "rating": pd.Series([], dtype=float)})
    else:
        rows = train.loc[train["user"] == int(user), ["item", "rating", "timestamp"]]
        rows = rows.sort_values(["rating", "timestamp"], ascending=[False, True],
                                kind="stable")[["item", "rating"]].astype({"rating": float})
    status = ["removed" if i in removed else "rated" for i in rows["item"]]
    have = set(rows["item"].tolist())
    extra = [i for i in sorted(set(added)) if i not in have]
    items = rows["item"].tolist() + extra
    table = pd.DataFrame({
        "item": np.asarray(items, dtype=np.int64),
        "movie": _titles(ml, items),
        "genres": _genres(ml, items),
        "rating": rows["rating"].tolist() + [np.nan] * len(extra),
        "status": status + ["added"] * len(extra),
    })
    return table


def recommendation_table(model, ml, profile: Profile, k: int = 10) -> pd.DataFrame:
    """Top-``k`` movies with their scores and a one-line explanation each: the history movie
    with the largest first-step term and the neighbour user with the largest origin term
    (both from :func:`score_decomposition`)."""
    with frozen_embeddings(model):
        return _recommendation_table(model, ml, profile, k)


def _recommendation_table(model, ml, profile: Profile, k: int) -> pd.DataFrame:
    items, scores = top_k(model, profile, k)
    because, neighbour, share = [], [], []
    for item in items.tolist():
        dec = score_decomposition(model, profile, item)
        check_decomposition(dec)
        best = int(dec["first_items"][0])
        because.append(_titles(ml, [best])[0])
        share.append(float(dec["first_contributions"][0]) / dec["score"]
                     if dec["score"] else np.nan)
        users = dec["origin"][: model.num_users].clone()
        if profile.user is not None:
            users[profile.user] = -math.inf
        neighbour.append(int(ml.users["user_id"].iloc[int(torch.argmax(users))]))
    return pd.DataFrame({
        "rank": np.arange(1, len(items) + 1),
        "item": items.numpy(),
        "movie": _titles(ml, items),
        "genres": _genres(ml, items),
        "score": scores.double().numpy(),
        "because you watched": because,
        "share of score": share,
        "top neighbour (user id)": neighbour,
    })


def compare_recommendations(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """What an edit did to a top-K list: one row per movie in either table
    (:func:`recommendation_table` output), with its rank and score before and after (missing
    when outside that list) and ``change``: "entered", "left", "up", "down" or "same"; ordered
    by the new ranking, then the movies that left."""
    b = before.set_index("item")
    a = after.set_index("item")
    items = list(a.index) + [i for i in b.index if i not in a.index]
    rows = []
    for i in items:
        rb = int(b.loc[i, "rank"]) if i in b.index else None
        ra = int(a.loc[i, "rank"]) if i in a.index else None
        movie = a.loc[i, "movie"] if ra is not None else b.loc[i, "movie"]
        if rb is None:
            change = "entered"
        elif ra is None:
            change = "left"
        else:
            change = "up" if ra < rb else "down" if ra > rb else "same"
        rows.append((movie, rb, ra, float(b.loc[i, "score"]) if rb is not None else np.nan,
                     float(a.loc[i, "score"]) if ra is not None else np.nan, change))
    out = pd.DataFrame(rows, columns=["movie", "rank before", "rank after", "score before",
                                      "score after", "change"])
    return out.astype({"rank before": "Int64", "rank after": "Int64"})


def explanation_tables(model, ml, profile: Profile, item: int, top: int = 5
                       ) -> dict[str, object]:
    """The decomposition of one score as tables: ``movies`` (the ``top`` history movies by
    first-step term, with how many users watched each (``watched by``, the degree d_j), its
    ``weight`` c_j = 1/sqrt(|S| d_j) and ``alignment`` g_j . e_i, whose product is the
    ``contribution``; then one row for the rest and one for the user's own layer-0 embedding,
    weight alpha_0 and alignment e_u^(0) . e_i),
    ``neighbours`` (the ``top`` neighbour users by origin term, with how many of the
    profile's movies each shares), ``groups`` (origin split by group), ``decomposition`` (the
    raw dict). In ``movies`` and ``groups`` the ``contribution`` column sums to the score."""
    with frozen_embeddings(model):
        dec = score_decomposition(model, profile, item)
    check_decomposition(dec)
    first_items, first = dec["first_items"], dec["first_contributions"]
    n = min(top, first_items.numel())
    shown = first_items[:n]
    degree = model.graph.item_degree[shown].double()
    # contribution = weight c_j * alignment g_j . e_i, with c_j = 1 / sqrt(|S| d_j)
    weight = (1.0 / torch.sqrt(first_items.numel() * degree.clamp(min=1.0))).tolist()
    values = first[:n].tolist()
    rows = [(t, int(d), w, v / w, v) for t, d, w, v in
            zip(_titles(ml, shown), degree.tolist(), weight, values)]
    if first_items.numel() > n:
        rows.append((f"other {first_items.numel() - n} movies of the history", None, None,
                     None, float(first[n:].sum())))
    if profile.user is None:
        rows.append(("own layer-0 embedding (none: new user)", None, 0.0, None, 0.0))
    else:
        alpha0 = model.alphas()[0]
        rows.append(("your own layer-0 embedding", None, alpha0,
                     dec["self"] / alpha0 if alpha0 else None, dec["self"]))
    movies = pd.DataFrame(rows, columns=["through", "watched by", "weight", "alignment",
                                         "contribution"])
    movies["watched by"] = movies["watched by"].astype("Int64")

    users = dec["origin"][: model.num_users].clone()
    if profile.user is not None:
        users[profile.user] = -math.inf
    order = torch.argsort(users, descending=True, stable=True)[:top]
    lists = model.graph.item_lists()
    history = set(profile.items.tolist())
    neighbours = pd.DataFrame({
        "user id": ml.users["user_id"].to_numpy()[order.numpy()],
        "shared movies": [len(history & set(lists[int(v)].tolist())) for v in order],
        "contribution": users[order].numpy(),
    })
    groups = pd.DataFrame({"origin": list(dec["groups"]),
                           "contribution": list(dec["groups"].values())})
    return {"item": int(item), "movie": _titles(ml, [item])[0], "score": dec["score"],
            "movies": movies, "neighbours": neighbours, "groups": groups, "decomposition": dec}


# ---------------------------------------------------------------------------------------------
# Embedding map
# ---------------------------------------------------------------------------------------------


def primary_genre(ml, genres: Sequence[str] = MAP_GENRES) -> np.ndarray:
    """One colour label per movie: among its genres that appear in ``genres``, the rarest in
    the catalogue (so a comedy-romance is "Romance"); "other" when none is in ``genres``.
    Genres that ``ml.items`` lacks are skipped."""
    genres = [g for g in genres if g in ml.items.columns]
    counts = {g: int(ml.items[g].sum()) for g in genres}
    by_rarity = sorted(genres, key=lambda g: (counts[g], g))
    flags = ml.items[by_rarity].to_numpy()
    out = np.full(len(ml.items), "other", dtype=object)
    for row, f in enumerate(flags):
        hit = np.flatnonzero(f)
        if hit.size:
            out[row] = by_rarity[hit[0]]
    return out


@torch.no_grad()
def embedding_map_state(model, ml, profile: Profile, recommended, pca: Mapping | None = None
                        ) -> dict:
    """Items' final embeddings on their first two principal axes, the profile's final
    embedding projected on the same axes, the history and the recommended items."""
    _, item_emb = model.embeddings()
    pca = pca if pca is not None else plot.pca_2d(item_emb)
    if profile.user is not None and not profile.edited:
        user_vec = model.embeddings()[0][profile.user]
    else:
        user_vec = fold_in_user(model, profile.items, profile.ego)
    return {
        "coords": pca["coords"].numpy(),
        "explained": pca["explained"].numpy(),
        "genre": primary_genre(ml),
        "user": plot.project(user_vec, pca).numpy(),
        "history": profile.items.numpy(),
        "recommended": np.asarray(recommended, dtype=np.int64),
        "label": profile_label(ml, profile),
    }


# ---------------------------------------------------------------------------------------------
# The user view: everything the explorer shows, as one pure function
# ---------------------------------------------------------------------------------------------


def user_view_state(model, ml, train: pd.DataFrame, user: int | None = 0, remove: Sequence = (),
                    add: Sequence = (), k: int = 10, explain_rank: int = 1, top: int = 5,
                    pca: Mapping | None = None) -> dict:
    """What the user view shows for ``user`` (None: a new user built from ``add``) with the
    what-if edits ``remove``/``add``: ``history``, ``recommendations`` (top ``k``), the
    ``explanation`` of the recommendation at ``explain_rank`` (1-based) and the ``map``.
    ``message`` is :data:`EMPTY_MESSAGE` (and the rest is None) when the history is empty."""
    with frozen_embeddings(model):
        return _user_view_state(model, ml, train, user, remove, add, k, explain_rank, top, pca)


def _user_view_state(model, ml, train, user, remove, add, k, explain_rank, top, pca) -> dict:
    if not 1 <= k <= model.num_items:
        raise ValueError(f"k must be in 1..{model.num_items} (the number of recommendations), "
                         f"got {k}")
    item_index_set(remove, model.num_items, "remove")
    item_index_set(add, model.num_items, "add")
    history = history_table(ml, train, user, remove, add)
    state = {"user": user, "remove": tuple(int(i) for i in remove),
             "add": tuple(int(i) for i in add), "k": k, "explain_rank": explain_rank,
             "history": history, "profile": None, "recommendations": None,
             "explanation": None, "map": None, "message": None}
    try:
        profile = make_profile(model, user, remove, add)
    except ValueError:
        state["message"] = EMPTY_MESSAGE
        return state
    if not 1 <= explain_rank <= k:
        raise ValueError(f"explain_rank must be in 1..{k}, got {explain_rank}")
    recs = recommendation_table(model, ml, profile, k)
    state["profile"] = profile
    state["recommendations"] = recs
    state["explanation"] = explanation_tables(model, ml, profile,
                                              int(recs["item"].iloc[explain_rank - 1]), top)
    state["map"] = embedding_map_state(model, ml, profile, recs["item"].to_numpy(), pca)
    return state


# ---------------------------------------------------------------------------------------------
# Drawing
# ---------------------------------------------------------------------------------------------

# MAP_GENRES in the colour-blind-safe palette of gnnedu.plot; the rest grey.
GENRE_COLORS = {**dict(zip(MAP_GENRES, plot.PALETTE)), "other": "#c7c7c7"}


def _short(text: str, n: int = 34) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def draw_explanation(tables: Mapping, ax=None, figsize=(6.2, 4.2)) -> Figure:
    """Horizontal bars: the score of one recommendation split by first step (history movies,
    the rest, the user's own embedding) and by origin group; a line marks the score."""
    fig, ax = plot.axes_for(ax, figsize)
    movies, groups = tables["movies"], tables["groups"]
    labels = [_short(t) for t in movies["through"]] + [f"origin: {g}" for g in groups["origin"]]
    values = list(movies["contribution"]) + list(groups["contribution"])
    colors = [plot.ITEM_COLOR] * len(movies) + [plot.USER_COLOR] * len(groups)
    y = np.arange(len(values))[::-1]
    ax.barh(y, values, color=colors)
    ax.set_yticks(y, labels, fontsize=8)
    ax.axvline(0.0, color="#444444", lw=0.8)
    ax.axvline(tables["score"], color=plot.HIGHLIGHT_COLOR, ls="--", lw=1.2,
               label=f"score {tables['score']:.3f}")
    ax.set_xlabel("contribution to the score")
    ax.set_title(_short(f"Why '{tables['movie']}'?", 48))
    from matplotlib.patches import Patch

    ax.legend(handles=[Patch(color=plot.ITEM_COLOR, label="first step (sums to score)"),
                       Patch(color=plot.USER_COLOR, label="origin groups (sum to score)"),
                       ax.get_lines()[-1]], fontsize=7, loc="lower right")
    return fig


def draw_embedding_map(state: Mapping, ax=None, figsize=(6.2, 4.8)) -> Figure:
    """Items on the first two principal axes of their final embeddings, coloured by primary
    genre; the history (black rings), the recommendations (red stars) and the user (cross)."""
    fig, ax = plot.axes_for(ax, figsize)
    coords, genre = state["coords"], state["genre"]
    for g, color in GENRE_COLORS.items():
        mask = genre == g
        if mask.any():
            ax.scatter(coords[mask, 0], coords[mask, 1], s=7, color=color, alpha=0.55,
                       label=g, lw=0)
    hist = coords[state["history"]]
    ax.scatter(hist[:, 0], hist[:, 1], s=26, facecolors="none", edgecolors="black", lw=0.8,
               label="history")
    rec = coords[state["recommended"]]
    ax.scatter(rec[:, 0], rec[:, 1], s=90, marker="*", color=plot.HIGHLIGHT_COLOR,
               edgecolors="black", lw=0.5, label="recommended")
    ax.scatter([state["user"][0]], [state["user"][1]], s=120, marker="X", color="black",
               label="user")
    ev = state["explained"]
    ax.set_xlabel(f"PC 1 ({100 * ev[0]:.0f}% of variance)")
    ax.set_ylabel(f"PC 2 ({100 * ev[1]:.0f}% of variance)")
    ax.set_title(f"Item embeddings (PCA): {state['label']}")
    ax.legend(fontsize=7, markerscale=1.2, ncol=2, loc="best")
    return fig


def draw_user_view(state: Mapping, figsize=(13.0, 4.8)) -> Figure:
    """The explanation of the selected recommendation beside the embedding map; a note when
    the history is empty."""
    if state["message"] is not None:
        fig, ax = plot.new_figure(figsize=(6.0, 1.6))
        ax.axis("off")
        ax.set_title("Nothing to recommend yet")
        ax.text(0.5, 0.4, state["message"], ha="center", va="center", fontsize=10,
                transform=ax.transAxes, wrap=True)
        return fig
    fig, axes = plot.new_figure(1, 2, figsize=figsize)
    draw_explanation(state["explanation"], ax=axes[0])
    draw_embedding_map(state["map"], ax=axes[1])
    return fig


# ---------------------------------------------------------------------------------------------
# The widget
# ---------------------------------------------------------------------------------------------


def _html_table(frame: pd.DataFrame, caption: str, max_rows: int = 12) -> str:
    shown = frame.head(max_rows)
    more = (f"<div style='font-size:11px;color:#666'>... {len(frame) - max_rows} more rows"
            "</div>") if len(frame) > max_rows else ""
    return (f"<div style='margin:4px 12px 4px 0'><b>{html.escape(caption)}</b>"
            + shown.to_html(index=False, float_format=lambda v: f"{v:.4f}", na_rep="",
                            border=0) + more + "</div>")


def _bundle(data: dict) -> dict:
    return {"output_type": "display_data", "data": data, "metadata": {}}


class RecommendationExplorer(Explorer):
    """The user view of notebook 08, wired to :func:`user_view_state`.

    Controls (attributes; set ``.value`` from code or move them in the page):

    - ``user`` (Dropdown "user", value = user index, labels show the MovieLens user id);
    - ``new_user`` (Checkbox "new user"): ignore ``user`` and build a user from ``add``;
    - ``remove`` (SelectMultiple "remove"): movies of the history to leave out (what-if);
    - ``add`` (SelectMultiple "add"): popular movies outside the history, to add (what-if / new
      user);
    - ``k`` (IntSlider "K"): how many recommendations;
    - ``explain`` (Dropdown "explain #"): which recommendation the bars explain;
    - ``reset`` (Button "reset edits"): clear ``remove`` and ``add``.

    After any change ``state`` (the dict of :func:`user_view_state`) and ``figure`` hold the
    new result, ``out`` (an ``Output``) shows the history and recommendation tables and the
    figure, and ``redraws`` counts the redraws. ``widget`` is the displayed ``VBox`` (CSS
    classes ``gnnedu-widget`` and ``gnnedu-recommendations``).
    """

    css_class = "gnnedu-recommendations"

    def __init__(self, model, ml, train: pd.DataFrame, *, user: int = 0, k: int = 10,
                 max_k: int = 20, n_candidates: int = 200, figure_dpi: int = 72):
        import ipywidgets as widgets

        self.model, self.ml, self.train = model, ml, train
        self.figure_dpi = figure_dpi
        _, item_emb = model.embeddings()
        self.pca = plot.pca_2d(item_emb)
        popular = torch.argsort(-model.graph.item_degree, stable=True)[:n_candidates]
        self._candidates = [(_short(t, 40), int(i)) for t, i in
                            zip(_titles(ml, popular), popular.tolist())]
        user_ids = ml.users["user_id"].to_numpy()
        degree = model.graph.user_degree.long().tolist()
        self.user = widgets.Dropdown(
            options=[(f"user {uid} ({d} movies)", u) for u, (uid, d) in
                     enumerate(zip(user_ids, degree))], value=int(user), description="user",
            layout=widgets.Layout(width="260px"))
        self.new_user = widgets.Checkbox(value=False, description="new user", indent=False,
                                         layout=widgets.Layout(width="110px"))
        self.k = widgets.IntSlider(value=k, min=1, max=max_k, description="K",
                                   continuous_update=False, layout=widgets.Layout(width="260px"))
        self.explain = widgets.Dropdown(options=list(range(1, k + 1)), value=1,
                                        description="explain #",
                                        layout=widgets.Layout(width="170px"))
        self.reset = widgets.Button(description="reset edits", layout=widgets.Layout(width="110px"))
        self.remove = widgets.SelectMultiple(options=[], rows=7, description="remove",
                                             layout=widgets.Layout(width="400px"))
        self.add = widgets.SelectMultiple(options=[], rows=7, description="add",
                                          layout=widgets.Layout(width="400px"))
        self.out = widgets.Output()
        row1 = widgets.HBox([self.user, self.new_user, self.k, self.explain, self.reset])
        row2 = widgets.HBox([self.remove, self.add])
        self._init_box([row1, row2, self.out])

        self._refresh_history_options()
        for control in (self.remove, self.add, self.explain):
            control.observe(self._on_change, names="value")
        self.user.observe(self._on_user, names="value")
        self.new_user.observe(self._on_user, names="value")
        self.k.observe(self._on_k, names="value")
        self.reset.on_click(self._on_reset)
        self.update()

    # -- wiring --------------------------------------------------------------------------------

    def _refresh_history_options(self):
        """``remove`` offers the user's history, ``add`` the candidates outside it."""
        with self._hold():
            self.remove.value = ()
            self.add.value = ()
            if self.new_user.value:
                items = []
            else:
                items = self.model.graph.item_lists()[self.user.value].tolist()
            self.remove.options = [(_short(t, 40), i) for t, i in
                                   zip(_titles(self.ml, items), items)]
            history = set(items)
            self.add.options = [c for c in self._candidates if c[1] not in history]
            self.user.disabled = self.new_user.value
            self.remove.disabled = self.new_user.value

    def _on_user(self, _change=None):
        with self._hold():
            self._refresh_history_options()
            self.explain.value = 1
        self.update()

    def _on_k(self, _change=None):
        with self._hold():
            keep = min(self.explain.value, self.k.value)
            self.explain.options = list(range(1, self.k.value + 1))
            self.explain.value = keep
        self.update()

    def _on_reset(self, _button=None):
        with self._hold():
            self.remove.value = ()
            self.add.value = ()
        self.update()

    # -- drawing -------------------------------------------------------------------------------

    def update(self):
        """Recompute the state from the controls and redraw ``out``."""
        user = None if self.new_user.value else self.user.value
        self.state = user_view_state(self.model, self.ml, self.train, user,
                                     self.remove.value, self.add.value, self.k.value,
                                     self.explain.value, pca=self.pca)
        self.figure = draw_user_view(self.state)
        outputs = [_bundle({"text/html": self.tables_html(), "text/plain": self.summary()})]
        if self.state["message"] is None:       # an empty history has nothing to draw
            png = plot.figure_to_png(self.figure, dpi=self.figure_dpi)
            outputs.append(_bundle({"image/png": base64.b64encode(png).decode("ascii"),
                                    "text/plain": "<figure: explanation and embedding map>"}))
        self.out.outputs = tuple(outputs)
        self.redraws += 1

    def summary(self) -> str:
        """One line naming what is shown (also the plain-text form of the output)."""
        s = self.state
        if s["message"] is not None:
            return s["message"]
        recs = s["recommendations"]
        who = profile_label(self.ml, s["profile"])
        return (f"{who}: {len(s['profile'].items)} movies in the history; "
                f"top {len(recs)}: " + "; ".join(recs["movie"].head(3)) + " ...")

    def tables_html(self) -> str:
        """The history and recommendation tables side by side, as HTML."""
        s = self.state
        hist = s["history"][["movie", "genres", "rating", "status"]]
        parts = [_html_table(hist, f"History ({s['history']['status'].ne('removed').sum()} "
                                   "movies used)")]
        if s["message"] is not None:
            parts.append(f"<div><b>{html.escape(s['message'])}</b></div>")
        else:
            recs = s["recommendations"][["rank", "movie", "score", "because you watched",
                                         "top neighbour (user id)"]]
            who = profile_label(self.ml, s["profile"])
            parts.append(_html_table(recs, f"Top {len(recs)} for {who}", max_rows=len(recs)))
            ex = s["explanation"]
            parts.append(_html_table(ex["neighbours"], f"Neighbours behind #{s['explain_rank']}"
                                     f" ({_short(ex['movie'], 30)})"))
        return "<div style='display:flex;flex-wrap:wrap'>" + "".join(parts) + "</div>"
