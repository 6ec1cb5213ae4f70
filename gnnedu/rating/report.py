"""Notebook 10's figures and tables of rating models: level counts, training curves, results
against the published numbers, and the ranking comparison.

API summary
-----------
- ``level_counts_figure(base)``: how many base ratings each star level has.
- ``training_figure(history, tuning_rows=None)``: the loss and validation RMSE of a live run,
  beside the validation curves of the tuning runs.
- ``results_figure(table, anchors=PUBLISHED_U1)``: RMSE per model (u1 over seeds, five folds)
  with the published u1 numbers as reference lines.
- ``PUBLISHED_U1``: the published u1 RMSEs the notebook compares with (no features: GC-MC
  0.910; with features: GC-MC 0.905, IGMC 0.905).
- ``topk_ranking_rows(keys, ml, split="u1")``: top-K recommenders of ``gnnedu.models`` fitted
  on the base file (every rating an interaction), scored as the rating models' ranking check
  (``gnnedu.rating.protocol.rank_metrics``).

The explorer of one prediction is ``gnnedu.widgets.ratings``.
"""


from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from gnnedu import plot

__all__ = ["PUBLISHED_U1", "level_counts_figure", "training_figure", "results_figure",
           "topk_ranking_rows"]

# Published RMSE on u1 (van den Berg, Kipf and Welling 2017, table 2; Zhang and Chen 2020).
PUBLISHED_U1 = {"GC-MC": 0.910, "GC-MC + features": 0.905, "IGMC": 0.905}


def level_counts_figure(base: pd.DataFrame, levels=(1, 2, 3, 4, 5)):
    """Bar chart: the number of base ratings at each star level (the edges of each type)."""
    counts = base["rating"].value_counts().reindex(list(levels), fill_value=0)
    fig, ax = plot.new_figure(figsize=(5.5, 3.2))
    bars = ax.bar([str(r) for r in levels], counts.to_numpy(), color=plot.ITEM_COLOR)
    ax.bar_label(bars, labels=[f"{c:,}" for c in counts], fontsize=8)
    ax.margins(y=0.12)  # room for the labels
    ax.set_title(f"{len(base):,} base ratings by level")
    ax.set_xlabel("stars (edge type)")
    ax.set_ylabel("ratings")
    return fig


def training_figure(history, tuning_rows=()):
    """Left: training loss (cross-entropy) per epoch of ``history`` (``RatingHistory``);
    right: its validation RMSE, and the curves of the tuning runs (``tuning_rows``: rows of
    ``tuning.json`` with ``curve_epochs``/``curve_rmse``) with their chosen epochs marked."""
    fig, axes = plot.new_figure(1, 2, figsize=(11, 3.8))
    frame = history.to_frame()
    plot.curves(frame["epoch"], {"this run (fit part)": frame["loss"]},
                title="training loss", xlabel="epoch", ylabel="cross-entropy", marker=None,
                ax=axes[0])
    curves_x, curves_y = {}, {}
    for row in tuning_rows:
        label = row["key"] + "".join(f", {k}={v}" for k, v in row["config"].items())
        curves_x[label], curves_y[label] = row["curve_epochs"], row["curve_rmse"]
    plot.curves(curves_x, curves_y, title="validation RMSE (averaged parameters)",
                xlabel="epoch", ylabel="RMSE", marker=None, ax=axes[1])
    if history.val_rmse:
        axes[1].plot(history.val_epochs, history.val_rmse, color="black", linewidth=2,
                     label="this run")
        axes[1].legend(fontsize=7)
    for row in tuning_rows:
        axes[1].plot([row["epochs"]], [row["val_rmse"]], "k|", markersize=12)
    if curves_y:
        low = min(min(v) for v in curves_y.values())
        axes[1].set_ylim(low - 0.005, low + 0.06)
    return fig


def results_figure(table: pd.DataFrame, anchors=PUBLISHED_U1, skip=("mean",)):
    """Points with error bars: each model's RMSE on u1 (mean ± std over seeds) and over the five
    folds (mean ± std over folds), with the published u1 results as dashed lines. Points, not
    bars: the axis is zoomed on a narrow range of RMSE, where bar lengths would mislead.
    ``table``: ``gnnedu.rating.protocol.results_table``; the models in ``skip`` (the global
    mean, far off the scale) are left out and named in the title."""
    shown = table.drop(index=[k for k in skip if k in table.index])
    fig, ax = plot.new_figure(figsize=(7.5, 0.55 * len(shown) + 2.4))
    y = np.arange(len(shown))
    ax.errorbar(shown["rmse u1"], y - 0.15, xerr=shown["rmse u1 std"], fmt="o", capsize=3,
                label="u1 (mean ± std over 5 seeds)", color=plot.PALETTE[0])
    ax.errorbar(shown["rmse folds"], y + 0.15, xerr=shown["rmse folds std"], fmt="s",
                capsize=3, label="u1-u5 (mean ± std over 5 folds)", color=plot.PALETTE[5])
    lines = {}
    for name, value in anchors.items():  # one line per value, its names joined
        lines.setdefault(value, []).append(name)
    for k, (value, names) in enumerate(sorted(lines.items(), reverse=True)):
        ax.axvline(value, color=plot.PALETTE[3 + k], linestyle="--", linewidth=1.2,
                   label=f"{' and '.join(names)} (published, u1): {value:.3f}")
    ax.set_yticks(y, shown["model"])
    ax.set_ylim(len(shown) - 0.5, -0.5)
    values = np.concatenate([shown["rmse u1"], shown["rmse folds"], list(anchors.values())])
    ax.set_xlim(values.min() - 0.015, values.max() + 0.015)
    ax.set_xlabel("RMSE (lower is better)")
    left_out = ", ".join(table.loc[k, "model"] for k in skip if k in table.index)
    ax.set_title("Rating prediction on MovieLens-100K"
                 + (f" ({left_out}: off the scale)" if left_out else ""), fontsize=10)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
    return fig


def topk_ranking_rows(keys, ml, split: str = "u1") -> list[dict]:
    """Fit top-K recommenders (``gnnedu.models`` keys, default settings, seed 0) on ``split``'s
    base file, every rating an interaction, and score them like the rating models' ranking
    check. Returns one dict per model: ``model``, ``key``, ``recall@20``, ``ndcg@20``."""
    from gnnedu.graph import build_graph
    from gnnedu.models import make_model
    from gnnedu.rating.data import load_rating_split
    from gnnedu.rating.protocol import RANK_K, rank_metrics

    base, test = load_rating_split(ml, split)
    graph = build_graph(base, ml.num_users, ml.num_items)
    rows = []
    for key in keys:
        torch.manual_seed(0)
        model = make_model(key).fit(graph, seed=0)
        with torch.no_grad():
            scores = model.score(torch.arange(ml.num_users))
        rows.append({"model": model.name, "key": key, **rank_metrics(scores, base, test)})
    return [{k: r[k] for k in ("model", "key", f"recall@{RANK_K}", f"ndcg@{RANK_K}")}
            for r in rows]
