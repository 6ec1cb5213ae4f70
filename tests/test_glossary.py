"""gnnedu.glossary: the terms are true to the article and the notebooks, and the Chinese text
in the glossary's figure is drawn with a CJK font (no missing-glyph boxes).

The font tests need an installed CJK font (Debian: fonts-noto-cjk, which .ci/run installs).
Without one they are skipped with the reason, except in CI (``CI=true`` or
``GNNEDU_REQUIRE_DATA=1``), where a missing font is a failure.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import warnings
from pathlib import Path

import matplotlib as mpl
import pytest
from matplotlib import font_manager

from gnnedu import glossary
from gnnedu.plot import figure_to_png, new_figure

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
ARTICLE = ROOT.parent / "shared" / "seed" / "000_6942e67a274cc63d.txt"
SECTION = re.compile(r"^#{2,5}\s*(\d+(?:\.\d+)*)\.?\s")


def in_ci() -> bool:
    return (os.environ.get("CI", "").lower() == "true"
            or os.environ.get("GNNEDU_REQUIRE_DATA", "") not in ("", "0"))


def missing(reason: str):
    """Skip outside CI; in CI a missing prerequisite is a failure."""
    if in_ci():
        pytest.fail(f"{reason} (CI requires it)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def cjk_font() -> str:
    font = glossary.find_cjk_font()
    if font is None:
        missing(f"no CJK font installed: {glossary.INSTALL_HINT}")
    return font


@pytest.fixture(scope="module")
def article_sections() -> dict[str, str]:
    """The source article's text by section number ("4.1"); a repeated number is joined."""
    if not ARTICLE.exists():
        missing(f"the source article is not at {ARTICLE}")
    sections: dict[str, list[str]] = {}
    current = "0"
    for line in ARTICLE.read_text(encoding="utf-8").splitlines():
        match = SECTION.match(line)
        if match:
            current = match.group(1)
        sections.setdefault(current, []).append(line)
    return {number: "\n".join(lines) for number, lines in sections.items()}


def notebook_text(name: str) -> str:
    cells = json.loads((NOTEBOOKS / name).read_text(encoding="utf-8"))["cells"]
    return "\n".join("".join(cell["source"]) for cell in cells)


# -- the terms --------------------------------------------------------------------------------


def test_terms_are_complete_and_unique():
    english = [t.english.lower() for t in glossary.TERMS]
    assert len(english) == len(set(english)), "a term is listed twice"
    for term in glossary.TERMS:
        assert term.chinese and term.definition.rstrip(")").endswith("."), term
        assert "|" not in term.definition, f"{term.english}: a | breaks the Markdown table"
        assert term.notebook is None or term.notebook in glossary.NOTEBOOKS, term
        assert re.fullmatch(r"(\d+(\.\d+)*)?", term.article), term
        assert term.notebook is not None or term.article, f"{term.english}: where is it used?"
        re.compile(term.search)


def test_issue_terms_are_in_the_glossary():
    chinese = {t.chinese: t.english for t in glossary.TERMS}
    for word in ("消息传递", "聚合函数", "图卷积网络", "负采样", "冷启动", "召回率", "过平滑"):
        assert word in chinese, word


def test_every_notebook_named_exists():
    for name in glossary.NOTEBOOKS.values():
        assert (NOTEBOOKS / name).exists(), name


def test_each_term_is_mentioned_where_it_is_introduced():
    texts = {n: notebook_text(name) for n, name in glossary.NOTEBOOKS.items()}
    absent = [f"{t.english} ({t.notebook:02d}, /{t.search}/)" for t in glossary.TERMS
              if t.notebook is not None and not re.search(t.search, texts[t.notebook], re.I)]
    assert not absent, f"not mentioned in the notebook that introduces them: {absent}"


def test_article_sections_use_the_chinese_terms(article_sections):
    article = "\n".join(article_sections.values())
    for term in glossary.TERMS:
        if term.article:
            assert term.chinese in article_sections.get(term.article, ""), (
                f"{term.chinese} is not in section {term.article} of the article")
        else:
            assert term.chinese not in article, (
                f"{term.chinese} is in the article: give its section")


def test_tables_hold_every_term():
    frame = glossary.glossary_frame()
    assert len(frame) == len(glossary.TERMS)
    assert list(frame["English"]) == sorted(frame["English"], key=str.lower)
    table = glossary.markdown_table()
    rows = [line for line in table.splitlines()[2:] if line.startswith("| ")]
    assert len(rows) == len(glossary.TERMS)
    for row, (_, entry) in zip(rows, frame.iterrows(), strict=True):
        assert row.startswith(f"| {entry['English']} | {entry['中文']} |")
        assert row.count(" | ") == 4, row          # no "|" inside a cell breaks the row
    for number, name in glossary.NOTEBOOKS.items():
        assert f"[{number:02d}]({name})" in table, name


def test_terms_by_notebook_follows_the_notebook_field():
    grouped = glossary.terms_by_notebook()
    assert sum(len(ts) for ts in grouped.values()) == sum(
        t.notebook is not None for t in glossary.TERMS)
    assert all(t.notebook == n for n, ts in grouped.items() for t in ts)


# -- fonts ------------------------------------------------------------------------------------


def test_cjk_characters():
    assert glossary.cjk_characters("消息 passing 消息传递") == "消息传递"
    assert glossary.cjk_characters("message passing") == ""


def test_the_cjk_font_has_every_character_of_the_glossary(cjk_font):
    everything = "".join(t.chinese for t in glossary.TERMS)
    assert glossary.find_cjk_font(everything) is not None


def test_figure_draws_every_chinese_character_with_a_cjk_font(cjk_font):
    fig = glossary.draw_term_map()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        png = figure_to_png(fig, dpi=60)
    assert png.startswith(b"\x89PNG")
    missing_glyphs = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    assert not missing_glyphs, missing_glyphs[:3]

    chinese_texts = [t for t in fig.axes[0].texts + [fig.axes[0].title]
                     if glossary.cjk_characters(t.get_text())]
    drawn = "".join(t.get_text() for t in chinese_texts)
    assert all(t.chinese in drawn for t in glossary.TERMS if t.article and t.notebook is not None)
    for text in chinese_texts:
        fonts = glossary.resolve_fonts(text)
        for char in glossary.cjk_characters(text.get_text()):
            assert fonts[char] == cjk_font, (char, fonts[char])
        latin = [c for c in fonts if c.isascii()]
        assert all(fonts[c] is not None for c in latin), fonts   # Latin glyphs too


def test_resolve_fonts_reports_a_missing_glyph():
    fig = new_figure()[0]
    text = fig.text(0.5, 0.5, "GCN 图卷积网络", fontfamily=["DejaVu Sans"])
    fonts = glossary.resolve_fonts(text)
    assert fonts["G"] == "DejaVu Sans"
    assert fonts["图"] is None            # DejaVu Sans has no CJK glyphs: this would be a box


def test_cjk_fontfamily_puts_the_cjk_font_last(cjk_font):
    family = glossary.cjk_fontfamily("消息传递")
    assert family[:-1] == list(mpl.rcParams["font.family"]) and family[-1] == cjk_font


def test_no_cjk_font_warns_with_what_to_install(monkeypatch):
    monkeypatch.setattr(glossary, "find_cjk_font", lambda text=glossary.CJK_SAMPLE: None)
    with pytest.raises(glossary.MissingCJKFontError, match="fonts-noto-cjk"):
        glossary.cjk_fontfamily("消息传递")
    with pytest.warns(UserWarning, match="fonts-noto-cjk"):
        fig = glossary.draw_term_map()
    assert fig.axes[0].texts                 # still drawn, with boxes for the Chinese


def test_importing_and_drawing_change_no_global_state():
    before = dict(mpl.rcParams)
    fonts_before = len(font_manager.fontManager.ttflist)
    importlib.reload(glossary)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")      # no CJK font here: the test is about rcParams
        figure_to_png(glossary.draw_term_map(), dpi=40)
    assert dict(mpl.rcParams) == before
    assert len(font_manager.fontManager.ttflist) == fonts_before


def test_term_map_labels_are_inside_the_figure_and_do_not_overlap(cjk_font):
    fig = glossary.draw_term_map()
    fig.draw_without_rendering()
    page = fig.bbox
    boxes = [(t.get_text(), t.get_window_extent()) for t in fig.axes[0].texts]
    boxes.append(("title", fig.axes[0].title.get_window_extent()))
    for text, box in boxes:
        assert page.x0 <= box.x0 and box.x1 <= page.x1, f"{text!r} is clipped left/right"
        assert page.y0 <= box.y0 and box.y1 <= page.y1, f"{text!r} is clipped top/bottom"
    for i, (text_a, a) in enumerate(boxes):
        for text_b, b in boxes[i + 1:]:
            assert not a.overlaps(b), f"{text_a!r} overlaps {text_b!r}"


def test_draw_term_map_needs_terms():
    with pytest.raises(ValueError, match="no terms"):
        glossary.draw_term_map([t for t in glossary.TERMS if t.notebook is None])
