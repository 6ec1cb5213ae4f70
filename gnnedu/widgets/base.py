"""What every explorer shares: the box it displays, a redraw counter, and ``_hold``.

An explorer is a thin layer over pure functions: a ``*_state(...)`` function computes what is
shown (tested in pytest), a ``draw_*`` function turns that state into a labelled figure, and
the explorer only wires core ipywidgets controls to them. Its controls are attributes, so
``explorer.k.value = 5`` moves a control from pytest or a notebook; after any change
``.state`` and ``.figure`` hold the new result and ``.redraws`` counts the redraws. ``.widget``
is the displayed box, with the CSS class ``gnnedu-widget`` plus the explorer's own
``css_class``, so a browser test can find it; the explorer object itself displays as that box.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import contextmanager

import ipywidgets as widgets
from matplotlib.figure import Figure

__all__ = ["Explorer"]


class Explorer:
    """Base class: subclasses build their controls, call :meth:`_init_box` and implement
    :meth:`update` (recompute ``state``, redraw, then ``self.redraws += 1``)."""

    css_class = "gnnedu-widget"

    def _init_box(self, rows: Sequence[widgets.Widget]) -> widgets.VBox:
        """The displayed ``VBox`` of ``rows``, with the CSS classes; resets the state."""
        self.widget = widgets.VBox(list(rows))
        self.widget.add_class("gnnedu-widget")
        self.widget.add_class(self.css_class)
        self._holding = False
        self.figure: Figure | None = None
        self.state: dict = {}
        self.redraws = 0
        return self.widget

    @contextmanager
    def _hold(self):
        """Change several controls, then redraw once: inside the block (nested blocks
        included) :meth:`_on_change` does nothing; the caller calls :meth:`update` after."""
        held, self._holding = self._holding, True
        try:
            yield
        finally:
            self._holding = held

    def _on_change(self, _change=None):
        if not self._holding:
            self.update()

    def update(self):  # pragma: no cover - overridden
        raise NotImplementedError

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)
