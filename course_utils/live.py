"""A choice a student changes in JupyterLab, and the views that redraw when it changes.

In a live notebook (a Jupyter kernel behind JupyterLab, with ``ipywidgets``),
:class:`Choice` shows a slider, and every view drawn with :meth:`Choice.show`
redraws in place when the slider moves: no cell has to be run again. Where
nothing is live (the course runner, papermill, so the book), the views are drawn
once, for the default value, as ordinary static output.

Example
-------
>>> user = Choice(3, maximum=9, description="user #", live=False)
>>> user.show(lambda pos: print("the view of user", pos))
the view of user 3
"""
from __future__ import annotations

import os
from typing import Any, Callable

View = Callable[[int], Any]


def is_live() -> bool:
    """True in a Jupyter kernel a person drives; False under the course runner or papermill.

    The course runner marks its kernels with ``COURSE_RESULTS_FILE``; papermill's
    kernels are Jupyter kernels too, which is why the runner's mark is needed.

    Example
    -------
    >>> is_live()  # a doctest is no Jupyter kernel
    False
    """
    if os.environ.get("COURSE_RESULTS_FILE"):
        return False
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipykernel
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


class Choice:
    """An integer choice in ``0..maximum``; a slider for it where the notebook is live.

    Parameters
    ----------
    value : int
        The default choice: what the book shows.
    maximum : int
        The largest choice (the smallest is 0).
    description : str
        The slider's label.
    live : bool, optional
        Force live (slider, redrawing views) or static; by default :func:`is_live`.

    Example
    -------
    >>> choice = Choice(2, maximum=5, description="user #", live=False)  # as in the book
    >>> choice.control()                 # no slider: nothing is shown
    >>> choice.show(lambda pos: print(f"top five of user #{pos}"))
    top five of user #2

    (tests/test_live.py moves the slider of a live one.)
    """

    def __init__(self, value: int, maximum: int, description: str,
                 live: bool | None = None) -> None:
        if not 0 <= value <= maximum:
            raise ValueError(f"the default choice {value} is outside 0..{maximum}")
        self.value = int(value)
        self.live = is_live() if live is None else live
        self.slider = None
        self._views: dict[str, tuple[View, Any]] = {}
        if self.live:
            import ipywidgets as widgets

            self.slider = widgets.IntSlider(value=self.value, min=0, max=maximum,
                                            description=description,
                                            continuous_update=False)
            self.slider.observe(self._changed, names="value")

    def control(self) -> None:
        """Display the slider (live notebooks only; elsewhere nothing is shown)."""
        if self.slider is not None:
            from IPython.display import display

            display(self.slider)

    def show(self, view: View) -> None:
        """Draw ``view(value)`` here; when live, redraw it in place on every change.

        A view is known by its function's name: running its cell again replaces it.
        """
        if not self.live:
            view(self.value)
            return
        import ipywidgets as widgets
        from IPython.display import display

        out = widgets.Output()
        self._views[view.__name__] = (view, out)
        display(out)
        self._draw(view, out)

    def _draw(self, view: View, out: Any) -> None:
        out.clear_output(wait=True)
        with out:
            view(self.value)

    def _changed(self, change: dict[str, Any]) -> None:
        self.value = int(change["new"])
        for view, out in self._views.values():
            self._draw(view, out)
