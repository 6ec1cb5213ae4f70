"""The new-movie explorer of notebook 09: pretend a movie is new, see whom a feature-aware
LightGCN would recommend it to, and where each score comes from.

A movie without training interactions gets, in ``gnnedu.featmodels.FeatureLightGCN`` (with
``item_layer0``), the embedding e_i = x_i W_I + b_I: its features only. The score of user u,
s_ui = e_u . e_i, then splits exactly in two ways:

- by the user side: e_u = alpha_0 (x_u W_U + b_U) + alpha_0 z_u + sum_{k>=1} alpha_k e_u^(k),
  i.e. "your features", "your ID embedding" and "your neighbourhood" (what propagation over
  the training graph brought: the movies you watched, the users who share them, ...);
- by the movie side: e_i = sum_f x_if W_I[f] + b_I, one term per feature of the movie (each
  genre, the year) plus the bias.

API summary
-----------
- ``movie_vector(ml, features, genres=(), year=None, item=None) -> Tensor [Fi]``: the feature
  row of a catalogue movie (``item``) or of a made-up one (genres and a release year).
- ``new_item_state(model, ml, x, k=10) -> dict``: the ``k`` users with the highest score, a
  table with each user's score and its user-side parts, and the movie-side parts of the
  scores summed over those users (both splits add up to the scores; checked).
- ``draw_new_item(state)``: the figure; ``NewItemExplorer``: the widget.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from gnnedu import plot
from gnnedu.featmodels import year_bins
from gnnedu.widgets.base import Explorer

__all__ = ["movie_vector", "new_item_state", "draw_new_item", "NewItemExplorer",
           "USER_PARTS", "TOLERANCE"]

USER_PARTS = ("your features", "your ID embedding", "your neighbourhood")
TOLERANCE = 1e-4   # |sum of parts - score|, relative to max(1, |score|)


def movie_vector(ml, features, genres: Sequence[str] = (), year: int | None = None,
                 item: int | None = None) -> torch.Tensor:
    """The feature row ``[Fi]`` of catalogue movie ``item``, or of a new movie with these
    ``genres`` and release ``year`` (scaled as ``gnnedu.data.movie_features`` scales years).
    A ``ValueError`` names an unknown genre."""
    if item is not None:
        return features.item[int(item)].clone()
    unknown = [g for g in genres if g not in ml.genres]
    if unknown:
        raise ValueError(f"unknown genre(s) {unknown}; choose from {list(ml.genres)}")
    names = features.item_names
    x = torch.zeros(len(names))
    for g in genres:
        x[names.index(g)] = 1.0
    years = ml.items["year"].astype("float64")
    if year is None:
        x[names.index("year_unknown")] = 1.0
    else:
        lo, hi = np.nanmin(years), np.nanmax(years)
        x[names.index("year_scaled")] = (float(year) - lo) / max(hi - lo, 1.0)
        bins, bin_names = year_bins([float(year)])
        x[[names.index(n) for n in bin_names]] = bins[0]
    return x


@torch.no_grad()
def new_item_state(model, ml, x: torch.Tensor, k: int = 10) -> dict:
    """Whom ``model`` (a fitted ``FeatureLightGCN`` scoring items from layer 0) would recommend
    a new movie with features ``x`` to, and why.

    Returns ``{"scores" [num_users], "users" (top-k user indices), "table" (DataFrame: user
    id, age, gender, occupation, score and the three user-side parts), "movie_parts"
    (Series: the movie-side parts of the top users' scores, summed over them, largest first),
    "gap" (the largest |sum of parts - score|)}``.
    """
    if not getattr(model, "item_layer0", False):
        raise ValueError("the explorer needs a FeatureLightGCN that scores items from layer 0 "
                         "(item_layer0=True)")
    enc = model.encoder
    x = torch.as_tensor(x, dtype=torch.float32).reshape(-1)
    if x.numel() != enc.item_map.in_features:
        raise ValueError(f"x has {x.numel()} features; the model reads "
                         f"{enc.item_map.in_features}")
    item = enc.item_map(x)                                        # e_i = x W_I + b_I
    layers = model.layer_embeddings()
    nu, alphas = model.num_users, model.alphas()
    own_features = alphas[0] * enc.user_map(enc.features.user)    # alpha_0 (x_u W_U + b_U)
    own_id = torch.zeros_like(own_features)
    if enc.id_embedding is not None:
        own_id = alphas[0] * enc.warm[:nu, None] * enc.id_embedding[:nu]
    neighbours = sum(a * h[:nu] for a, h in zip(alphas[1:], layers[1:])) \
        if len(layers) > 1 else torch.zeros_like(own_features)
    parts = torch.stack([own_features @ item, own_id @ item, neighbours @ item], dim=1)
    user_emb, _ = model.embeddings()
    scores = user_emb @ item
    top = torch.topk(scores, k).indices
    # the movie side: score = sum_f x_f (W_I[:, f] . e_u) + b_I . e_u, over the top users
    weights = enc.item_map.weight                                 # [dim, Fi]
    per_feature = (user_emb[top] @ weights).sum(0) * x            # [Fi]
    bias = float((user_emb[top] @ enc.item_map.bias).sum())
    names = list(enc.features.item_names)
    movie_parts = pd.Series(per_feature.numpy(), index=names)
    movie_parts = movie_parts[x.numpy() != 0]
    movie_parts["bias"] = bias
    movie_parts = movie_parts.reindex(movie_parts.abs().sort_values(ascending=False).index)
    gap = max(float((parts.sum(1) - scores).abs().max()),
              abs(float(movie_parts.sum()) - float(scores[top].sum())))
    if gap > TOLERANCE * max(1.0, float(scores.abs().max())):
        raise AssertionError(f"the parts do not add up to the scores (gap {gap:.2e})")
    users = ml.users.iloc[top.numpy()]
    table = pd.DataFrame({
        "user id": users["user_id"].to_numpy(), "age": users["age"].to_numpy(),
        "gender": users["gender"].to_numpy(), "occupation": users["occupation"].to_numpy(),
        "score": scores[top].numpy(),
        **{name: parts[top, j].numpy() for j, name in enumerate(USER_PARTS)},
    })
    return {"scores": scores, "users": top, "table": table, "movie_parts": movie_parts,
            "gap": gap}


def draw_new_item(state: dict, title: str = "a new movie", figsize=(11.0, 3.8)) -> Figure:
    """Left: the top users' scores split into their three user-side parts (stacked bars).
    Right: the movie-side parts, summed over those users, one bar per feature."""
    fig, (left, right) = plot.new_figure(1, 2, figsize=figsize)
    table = state["table"]
    y = np.arange(len(table))[::-1]
    colors = (plot.PALETTE[0], plot.PALETTE[5], plot.PALETTE[1])
    pos_start, neg_start = np.zeros(len(table)), np.zeros(len(table))
    for name, color in zip(USER_PARTS, colors):
        values = table[name].to_numpy()
        start = np.where(values >= 0, pos_start, neg_start)
        left.barh(y, values, left=start, color=color, label=name)
        pos_start += np.clip(values, 0, None)
        neg_start += np.clip(values, None, 0)
    left.scatter(table["score"], y, color="black", marker="|", s=200, zorder=3, label="score")
    left.axvline(0, color="#888888", linewidth=0.8)
    left.set_yticks(y, [f"user {u}" for u in table["user id"]])
    left.set_xlabel("contribution to the score")
    left.set_title(f"Top {len(table)} users for {title}: where their scores come from")
    left.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=4)
    parts = state["movie_parts"]
    yy = np.arange(len(parts))[::-1]
    right.barh(yy, parts.to_numpy(), color=[plot.ITEM_COLOR if v >= 0 else plot.DIM_COLOR
                                            for v in parts.to_numpy()])
    right.axvline(0, color="#888888", linewidth=0.8)
    right.set_yticks(yy, list(parts.index))
    right.set_xlabel(f"sum over the top {len(table)} users' scores")
    right.set_title("The movie's side: one term per feature")
    return fig


def _bundle(data: dict) -> dict:
    return {"output_type": "display_data", "data": data, "metadata": {}}


class NewItemExplorer(Explorer):
    """Pick a catalogue movie as if it were new, or make one up from genres and a year.

    Controls: ``movie`` (Dropdown: a catalogue movie, or "(made up)"), ``genres``
    (SelectMultiple), ``year`` (IntSlider), ``k`` (IntSlider: users listed). Choosing a movie
    sets ``genres`` and ``year`` to its own; editing them switches to "(made up)". After any
    change ``state`` (:func:`new_item_state`), ``figure`` and ``out`` (the table and the
    figure) are updated and ``redraws`` counts the redraws.
    """

    css_class = "gnnedu-new-items"
    MADE_UP = -1

    def __init__(self, model, ml, features, movie: int = 0, k: int = 10, n_movies: int = 300,
                 figure_dpi: int = 72):
        import ipywidgets as widgets

        self.model, self.ml, self.features = model, ml, features
        self.figure_dpi = figure_dpi
        counts = np.bincount(ml.ratings["item"], minlength=ml.num_items)
        shown = sorted(set(np.argsort(-counts, kind="stable")[:n_movies].tolist()) | {movie})
        titles = ml.items["title"].astype(str).to_numpy()
        self.movie = widgets.Dropdown(
            options=[("(made up)", self.MADE_UP)] + [(titles[i][:45], int(i)) for i in shown],
            value=int(movie), description="movie", layout=widgets.Layout(width="380px"))
        self.genres = widgets.SelectMultiple(options=list(ml.genres), rows=6,
                                             description="genres",
                                             layout=widgets.Layout(width="260px"))
        years = ml.items["year"].dropna().astype(int)
        self.year = widgets.IntSlider(value=1995, min=int(years.min()), max=int(years.max()),
                                      description="year", continuous_update=False)
        self.k = widgets.IntSlider(value=k, min=3, max=20, description="users",
                                   continuous_update=False)
        self.out = widgets.Output()
        self._init_box([widgets.HBox([self.movie, self.year, self.k]), self.genres, self.out])
        self._set_from_movie()
        self.movie.observe(self._on_movie, names="value")
        for control in (self.genres, self.year):
            control.observe(self._on_edit, names="value")
        self.k.observe(self._on_change, names="value")
        self.update()

    def _set_from_movie(self):
        item = self.movie.value
        if item == self.MADE_UP:
            return
        row = self.ml.items.iloc[item]
        with self._hold():
            self.genres.value = tuple(g for g in self.ml.genres if row[g] == 1)
            if not pd.isna(row["year"]):
                self.year.value = int(row["year"])

    def _on_movie(self, _change=None):
        if self._holding:                 # set by _on_edit, which redraws itself
            return
        self._set_from_movie()
        self.update()

    def _on_edit(self, _change=None):
        if self._holding:
            return
        with self._hold():
            self.movie.value = self.MADE_UP
        self.update()

    def vector(self) -> torch.Tensor:
        """The feature row of what the controls describe."""
        item = None if self.movie.value == self.MADE_UP else self.movie.value
        return movie_vector(self.ml, self.features, self.genres.value, self.year.value, item)

    def update(self):
        self.state = new_item_state(self.model, self.ml, self.vector(), self.k.value)
        label = ("a made-up movie" if self.movie.value == self.MADE_UP
                 else self.ml.items["title"].iloc[self.movie.value])
        self.figure = draw_new_item(self.state, title=label)
        png = plot.figure_to_png(self.figure, dpi=self.figure_dpi)
        self.out.outputs = (
            _bundle({"text/html": self.state["table"].round(3).to_html(index=False),
                     "text/plain": f"top {self.k.value} users for {label}"}),
            _bundle({"image/png": base64.b64encode(png).decode("ascii"),
                     "text/plain": "<figure: score parts>"}),
        )
        self.redraws += 1
