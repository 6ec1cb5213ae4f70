"""Regenerate the README's generated sections from the notebooks and the benchmark output.

    python -m gnnedu.docs          # rewrite the sections of README.md in place
    python -m gnnedu.docs --check  # exit 1 if README.md is out of date (tests/test_docs.py)

A section sits between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->`` markers.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
NOTEBOOKS = ROOT / "notebooks"
TITLE = re.compile(r"^#\s+(\d\d)\s*·\s*(.+?)\s*$", re.MULTILINE)


def notebook_map(folder: Path = NOTEBOOKS) -> str:
    """A Markdown table: number, linked title (from each notebook's H1 ``# NN · Title``)."""
    rows = ["| # | Notebook |", "|---|---|"]
    for path in sorted(folder.glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        first = "".join(cells[0]["source"]) if cells else ""
        match = TITLE.search(first)
        if match is None:
            raise ValueError(f"{path.name}: the first cell must start with '# NN · Title'")
        number, title = match.groups()
        rows.append(f"| {number} | [{title}](notebooks/{path.name}) |")
    return "\n".join(rows)


def sections() -> dict[str, str]:
    """Every generated section of the README, by marker name."""
    from gnnedu.bench import markdown_table
    from gnnedu.experiment import load_results

    results = load_results()
    proto, env = results["protocol"], results["environment"]
    seeds = ", ".join(str(seed) for seed in proto["seeds"])
    note = (f"\n\nProtocol P1: {proto['dataset']}, all ratings as implicit positives, per-user "
            f"random {1 - proto['test_ratio']:.0%}/{proto['test_ratio']:.0%} split, seeds {seeds}, "
            f"ranking: {proto['ranking']}. Metrics are mean ± std over the seeds; training "
            f"seconds and peak MB (resident memory added during training) are means "
            f"(torch {env['torch']}, {env['threads']} thread, {env['cpus']} CPUs).")
    return {"notebook-map": notebook_map(), "results": markdown_table(results) + note,
            "rating-results": rating_table(), "gowalla-results": gowalla_table()}


def gowalla_table() -> str:
    """Notebook 11's last table (``gnnedu.scale.final_table``, from ``gnnedu/results/gowalla``)
    as Markdown."""
    import math

    from gnnedu.scale import final_table

    def number(value, digits):
        return "" if value is None or math.isnan(value) else f"{value:.{digits}f}"

    rows = ["| Model | Recall@20 | NDCG@20 | train CPU min | train wall min | peak MB | how |",
            "|---|---:|---:|---:|---:|---:|---|"]
    for model, r in final_table().iterrows():
        rows.append(f"| {model} | {number(r['Recall@20'], 4)} | {number(r['NDCG@20'], 4)} | "
                    f"{number(r['train CPU min'], 1)} | {number(r['train wall min'], 1)} | "
                    f"{number(r['peak MB'], 0)} | {r['how']} |")
    return "\n".join(rows)


def rating_table() -> str:
    """Notebook 10's results (``gnnedu/results/rating/folds.json``) as a Markdown table."""
    from gnnedu.rating.protocol import load_rating_results, results_table
    from gnnedu.rating.report import PUBLISHED_U1

    results = load_rating_results()
    table = results_table(results)
    rows = ["| Model | RMSE u1 | RMSE u1-u5 | MAE u1 | MAE u1-u5 | train CPU s |",
            "|---|---:|---:|---:|---:|---:|"]
    for _, r in table.iterrows():
        rows.append(f"| {r['model']} | {r['rmse u1']:.4f} ± {r['rmse u1 std']:.4f} | "
                    f"{r['rmse folds']:.4f} ± {r['rmse folds std']:.4f} | "
                    f"{r['mae u1']:.4f} ± {r['mae u1 std']:.4f} | "
                    f"{r['mae folds']:.4f} ± {r['mae folds std']:.4f} | {r['cpu s']:.1f} |")
    seeds = sorted({run["seed"] for run in results["runs"]})
    env = results["environment"]
    anchors = ", ".join(f"{name} {value:.3f}" for name, value in PUBLISHED_U1.items())
    note = (f"\n\nOfficial folds u1-u5, predictions clipped to [1, 5], seeds "
            f"{', '.join(map(str, seeds))}. u1: mean ± std over the seeds; u1-u5: mean ± std "
            f"over the folds of each fold's seed mean; CPU seconds of training per run, mean "
            f"(torch {env['torch']}, {env['threads']} thread). Published u1 RMSE: {anchors}.")
    return "\n".join(rows) + note


def render(text: str, generated: dict[str, str]) -> str:
    for name, body in generated.items():
        pattern = re.compile(rf"(<!-- {name}:start -->\n).*?(<!-- {name}:end -->)", re.DOTALL)
        if not pattern.search(text):
            raise ValueError(f"README.md has no <!-- {name}:start/end --> markers")
        text = pattern.sub(lambda m, body=body: m.group(1) + body + "\n" + m.group(2), text)
    return text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gnnedu.docs", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only report whether it is current")
    args = parser.parse_args(argv)
    current = README.read_text(encoding="utf-8")
    wanted = render(current, sections())
    if args.check:
        if wanted != current:
            print("README.md is out of date: run `python -m gnnedu.docs`", file=sys.stderr)
            return 1
        print("README.md is up to date")
        return 0
    README.write_text(wanted, encoding="utf-8")
    print(f"wrote {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
