"""The rating explorer of notebook 10: one user, one movie, GC-MC's predicted stars.

API summary
-----------
- ``prediction_state(model, ml, user, item, top=8, test=None) -> dict``: what the explorer
  shows for one (user, movie) pair: the distribution over 1-5 stars, the expected rating, the
  user's base ratings that moved the prediction most (``GCMC.contributions``), the true test
  rating if any.
- ``draw_prediction(state)``: that state as a two-panel figure.
- ``RatingExplorer(model, ml, test=None, user=0, item=None)``: dropdowns for the user and the
  movie, wired to the two functions above (``gnnedu.widgets.base.Explorer``).
"""

from __future__ import annotations

import base64

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from gnnedu import plot
from gnnedu.widgets.base import Explorer

__all__ = ["prediction_state", "draw_prediction", "RatingExplorer"]

POSITIVE, NEGATIVE = plot.PALETTE[2], plot.PALETTE[3]  # green: pushed up, vermillion: down


def _title(ml, item: int, width: int = 38) -> str:
    title = str(ml.items["title"].iloc[int(item)])
    return title if len(title) <= width else title[: width - 1] + "…"


def prediction_state(model, ml, user: int, item: int, top: int = 8, test=None) -> dict:
    """Everything the explorer shows for user index ``user`` and movie index ``item``.

    Args:
        model: a fitted ``GCMC``.
        ml: the MovieLens tables (titles, ids).
        user, item: 0-based indices.
        top: how many contributing ratings to list.
        test: optional test ratings; the pair's true rating is looked up there.

    Returns:
        ``user_id``, ``title``, ``probabilities`` (numpy ``[5]``, sums to 1), ``expected``,
        ``prediction`` (what ``model.predict`` returns: the fallback if the movie or user has no
        base rating), ``fallback`` (bool), ``true_rating`` (or None), ``in_base`` (the user
        rated it in the base file), ``contributions`` (DataFrame, ``top`` rows: ``movie``,
        ``rating``, ``change``) and ``ratings`` (the user's number of base ratings).
    """
    user, item = int(user), int(item)
    probs = model.distribution([user], [item])[0].double().numpy()
    prediction = float(model.predict([user], [item])[0])
    fallback = model.fallback_count > 0
    contrib = model.contributions(user, item)
    table = pd.DataFrame({
        "movie": [_title(ml, i) for i in contrib["item"].head(top)],
        "rating": contrib["rating"].head(top).to_numpy(),
        "change": contrib["change"].head(top).to_numpy(),
    })
    true = None
    if test is not None:
        hit = test[(test["user"] == user) & (test["item"] == item)]
        true = int(hit["rating"].iloc[0]) if len(hit) else None
    in_base = bool(((contrib["item"] == item).any()) if len(contrib) else False)
    levels = np.asarray(model.graph.levels, dtype=float)
    return {"user": user, "item": item, "user_id": int(ml.users["user_id"].iloc[user]),
            "title": str(ml.items["title"].iloc[item]), "probabilities": probs,
            "levels": levels, "expected": float(probs @ levels), "prediction": prediction,
            "fallback": fallback, "true_rating": true, "in_base": in_base,
            "contributions": table, "ratings": len(contrib)}


def draw_prediction(state: dict):
    """Left: ``p(r | u, i)`` over the stars with the expected rating; right: the user's base
    ratings that moved the prediction most (leave-one-out change, green up, red down)."""
    fig, (left, right) = plot.new_figure(1, 2, figsize=(11.5, 3.9))
    stars = [f"{int(r)}" for r in state["levels"]]
    bars = left.bar(stars, state["probabilities"], color=plot.USER_COLOR)
    left.bar_label(bars, labels=[f"{p:.2f}" for p in state["probabilities"]], fontsize=8)
    left.axvline(state["expected"] - state["levels"][0], color="black", linestyle="--",
                 label=f"expected {state['expected']:.2f}")
    if state["true_rating"] is not None:
        k = list(state["levels"]).index(state["true_rating"])
        bars[k].set_edgecolor(plot.HIGHLIGHT_COLOR)
        bars[k].set_linewidth(2.5)
        left.plot([], [], color=plot.HIGHLIGHT_COLOR, linewidth=2.5,
                  label=f"true rating {state['true_rating']}")
    left.set_ylim(0, 1)
    left.set_xlabel("stars")
    left.set_ylabel("p(r | u, i)")
    left.set_title(f"user {state['user_id']}: {_short(state['title'], 34)}", fontsize=10)
    left.legend(fontsize=8, loc="upper left")
    table = state["contributions"].iloc[::-1]
    if len(table):
        colors = [POSITIVE if c >= 0 else NEGATIVE for c in table["change"]]
        right.barh([f"{m} ({r}★)" for m, r in zip(table["movie"], table["rating"])],
                   table["change"], color=colors)
        right.axvline(0, color="black", linewidth=0.8)
    right.tick_params(axis="y", labelsize=8)
    right.xaxis.set_major_locator(MaxNLocator(5))
    right.set_xlabel("change of the prediction caused by this rating (stars)")
    right.set_title(f"which of the user's {state['ratings']} ratings mattered most",
                    fontsize=10)
    return fig


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _display(data: dict) -> dict:
    return {"output_type": "display_data", "data": data, "metadata": {}}


class RatingExplorer(Explorer):
    """Choose a user and a movie; see the predicted distribution over 1-5 stars and which of
    the user's ratings contributed most (:func:`prediction_state`, :func:`draw_prediction`).

    Controls: ``user`` (Dropdown, value = user index, labels show the MovieLens id and the
    number of base ratings) and ``item`` (Dropdown, value = movie index; the user's test movies
    first when ``test`` is given, then every other movie by title). After a change ``state``,
    ``figure`` and ``redraws`` are updated and ``out`` shows the figure and a summary line.
    """

    css_class = "gnnedu-rating"

    def __init__(self, model, ml, test: pd.DataFrame | None = None, *, user: int = 0,
                 item: int | None = None, top: int = 8, figure_dpi: int = 72):
        import ipywidgets as widgets

        self.model, self.ml, self.test, self.top = model, ml, test, top
        self.figure_dpi = figure_dpi
        counts = np.bincount(model.graph.users.numpy(), minlength=ml.num_users)
        self.user = widgets.Dropdown(
            options=[(f"user {uid} ({n} ratings)", u) for u, (uid, n) in
                     enumerate(zip(ml.users["user_id"], counts))],
            value=int(user), description="user", layout=widgets.Layout(width="260px"))
        self.item = widgets.Dropdown(options=self._movie_options(int(user)),
                                     description="movie", layout=widgets.Layout(width="460px"))
        if item is not None:
            self.item.value = int(item)
        self.out = widgets.Output()
        self._init_box([widgets.HBox([self.user, self.item]), self.out])
        self.user.observe(self._on_user, names="value")
        self.item.observe(self._on_change, names="value")
        self.update()

    def _movie_options(self, user: int) -> list[tuple[str, int]]:
        first = []
        if self.test is not None:
            mine = self.test[self.test["user"] == user]
            first = [(f"test: {_title(self.ml, i, 44)} ({r}★)", int(i))
                     for i, r in zip(mine["item"], mine["rating"])]
        taken = {i for _, i in first}
        order = self.ml.items["title"].astype(str).sort_values(kind="stable").index
        return first + [(_title(self.ml, i, 50), int(i)) for i in order if int(i) not in taken]

    def _on_user(self, _change=None):
        with self._hold():
            self.item.options = self._movie_options(self.user.value)
            self.item.value = self.item.options[0][1]
        self.update()

    def summary(self) -> str:
        """One line: the pair, the prediction and (when known) the true rating."""
        s = self.state
        line = (f"user {s['user_id']}, {s['title']}: expected {s['expected']:.2f} stars")
        if s["fallback"]:
            line += f" (the movie has no base rating: the fallback predicts {s['prediction']:.2f})"
        if s["true_rating"] is not None:
            line += f"; rated {s['true_rating']} in the test file"
        return line

    def update(self):
        """Recompute the state from the controls and redraw ``out``."""
        self.state = prediction_state(self.model, self.ml, self.user.value, self.item.value,
                                      self.top, self.test)
        self.figure = draw_prediction(self.state)
        png = plot.figure_to_png(self.figure, dpi=self.figure_dpi)
        self.out.outputs = (
            _display({"text/plain": self.summary()}),
            _display({"image/png": base64.b64encode(png).decode("ascii"),
                      "text/plain": "<figure: predicted distribution and contributions>"}),
        )
        self.redraws += 1
