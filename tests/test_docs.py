"""The README's generated sections match the notebooks and the committed benchmark results."""

import pytest

from gnnedu import docs


def test_readme_is_up_to_date():
    current = docs.README.read_text(encoding="utf-8")
    assert docs.render(current, docs.sections()) == current, (
        "README.md is out of date: run `python -m gnnedu.docs`")


def test_notebook_map_lists_every_notebook():
    table = docs.notebook_map()
    for path in sorted(docs.NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        assert f"(notebooks/{path.name})" in table


def test_render_replaces_only_between_markers():
    text = "a\n<!-- x:start -->\nold\n<!-- x:end -->\nb\n"
    assert docs.render(text, {"x": "new"}) == "a\n<!-- x:start -->\nnew\n<!-- x:end -->\nb\n"
    with pytest.raises(ValueError, match="markers"):
        docs.render("no markers", {"x": "new"})
