"""notebooks/references.md: one list, every citation a link into it, every link finds its entry.

Checks the list itself (anchors: first author's surname + year, unique, alphabetical; every
entry has a year and a link), that every ``references.md#anchor`` link in the notebooks, the
Markdown pages and the glossary exists, and that the Markdown cells of every numbered notebook
and the pages cite no listed first author next to a year without linking the citation.
"""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

import pytest

from gnnedu import glossary

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
REFERENCES = NOTEBOOKS / "references.md"
PAGES = ["references.md", "cheatsheet.md", "instructor_notes.md", "notation.md"]
CITING_NOTEBOOKS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")) + [NOTEBOOKS / "glossary.ipynb"]

ENTRY = re.compile(r'^- <a id="([^"]+)"></a>(.*?)(?=^- <a id=|^## |\Z)', re.M | re.S)
LINK = re.compile(r"references\.md#([A-Za-z0-9_-]+)")
LINKED_CITATION = re.compile(r"\[[^\]]*\]\(references\.md#[^)]*\)")


def ascii_lower(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z]", "", folded.lower())


def entries() -> dict[str, str]:
    text = REFERENCES.read_text(encoding="utf-8")
    listed = text.split("## Works cited", 1)[1].split("\n## ", 1)[0]
    found = ENTRY.findall(listed)
    anchors = [a for a, _ in found]
    assert len(anchors) == len(set(anchors)), "an anchor is used twice"
    return {anchor: " ".join(body.split()) for anchor, body in found}


def first_surname(entry: str) -> str:
    return entry.split(",", 1)[0].strip()


def markdown_of_notebook(path: Path) -> str:
    """Markdown cells, plus Markdown the notebook prints (the glossary's table)."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    parts = []
    for cell in cells:
        if cell["cell_type"] == "markdown":
            parts.append("".join(cell["source"]))
        for output in cell.get("outputs", []):
            parts.append("".join(output.get("data", {}).get("text/markdown", "")))
    return "\n".join(parts)


def test_entries_are_well_formed_and_alphabetical():
    listed = entries()
    assert len(listed) >= 20
    assert list(listed) == sorted(listed), "entries must be in alphabetical order"
    for anchor, entry in listed.items():
        match = re.fullmatch(r"([a-z]+)(\d{4})([a-z]?)", anchor)
        assert match, f"{anchor}: surname + year (+ a letter)"
        surname, year, _ = match.groups()
        assert ascii_lower(first_surname(entry)) == surname, (anchor, first_surname(entry))
        assert f"({year})" in entry, f"{anchor}: the year {year} is not in the entry"
        assert re.search(r"<https?://[^>]+>", entry), f"{anchor}: no link"


def test_letters_only_where_anchors_clash():
    listed = entries()
    stems = [re.sub(r"[a-z]$", "", a) if re.search(r"\d[a-z]$", a) else a for a in listed]
    for anchor, stem in zip(listed, stems, strict=True):
        if anchor != stem:
            assert stems.count(stem) > 1, f"{anchor}: a letter without a clash"
        else:
            assert stems.count(stem) == 1, f"{anchor}: two entries share it, add letters"


def texts_with_links():
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        yield path.name, markdown_of_notebook(path)
    for name in PAGES:
        path = NOTEBOOKS / name
        if path.exists():
            yield name, path.read_text(encoding="utf-8")
    yield "gnnedu.glossary", glossary.markdown_table()


def test_every_link_into_the_list_finds_its_entry():
    listed = entries()
    broken = [f"{name}: #{anchor}" for name, text in texts_with_links()
              for anchor in LINK.findall(text) if anchor not in listed]
    assert not broken, f"links to missing entries: {broken}"


def test_links_between_pages_find_their_files():
    texts = [(name, NOTEBOOKS.joinpath(name).read_text(encoding="utf-8")) for name in PAGES]
    texts.append(("glossary.ipynb", markdown_of_notebook(NOTEBOOKS / "glossary.ipynb")))
    for name, text in texts:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if not re.match(r"[a-z]+:", target):
                assert (NOTEBOOKS / target).exists(), f"{name} links to missing {target}"


def unlinked_citations(text: str, surnames: set[str]) -> list[str]:
    """Places where a listed first author is followed by a year, outside a citation link."""
    text = LINKED_CITATION.sub("", text)
    text = re.sub(r"https?://\S+", "", text)
    found = []
    for surname in surnames:
        pattern = rf"\b{re.escape(surname)}\b[^\n]{{0,60}}?\b(1[89]\d\d|20\d\d)\b"
        found += [m.group(0) for m in re.finditer(pattern, text)]
    return found


@pytest.mark.parametrize("path", CITING_NOTEBOOKS + [NOTEBOOKS / p for p in PAGES[1:3]],
                         ids=lambda p: p.name)
def test_citations_are_links_into_the_list(path):
    if not path.exists():
        pytest.fail(f"{path.name} is missing")
    surnames = {first_surname(e).split()[-1] for e in entries().values()}
    text = (markdown_of_notebook(path) if path.suffix == ".ipynb"
            else path.read_text(encoding="utf-8"))
    found = unlinked_citations(text, surnames)
    assert not found, (f"{path.name}: cite as [Author et al. YEAR](references.md#anchor): "
                       f"{found}")


def test_the_checker_finds_an_unlinked_citation():
    surnames = {"Kipf", "He"}
    assert unlinked_citations("the GCN of Kipf & Welling (2017) adds", surnames)
    assert unlinked_citations("He et al. (SIGIR 2020) removed", surnames)
    assert not unlinked_citations("[Kipf & Welling (2017)](references.md#kipf2017) adds",
                                  surnames)
    assert not unlinked_citations("He trained for 2020 steps", {"Kipf"})
