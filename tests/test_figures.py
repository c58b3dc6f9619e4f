"""The heatmap is built without plotly's per-property validation: check once that it is valid."""

import numpy as np
import plotly.graph_objects as go
import pytest

from clap_core.contrastive import contrastive
from ui.figures import heatmap
from ui.views import VIEWS


@pytest.mark.parametrize("view", VIEWS, ids=lambda v: v.key)
@pytest.mark.parametrize("numbers_only", [False, True])
def test_heatmap_is_a_valid_plotly_figure(view, numbers_only):
    rng = np.random.default_rng(0)
    n = 9
    res = contrastive(rng.normal(size=(n, 16)), rng.normal(size=(n, 16)), 12.0)
    captions = [f"caption {i} <b>" for i in range(n)]
    clips = [f"clip-{i}.wav" for i in range(n)]
    fig = heatmap(res, view, captions, clips, numbers_only)
    checked = go.Figure(fig.to_plotly_json())  # full validation: raises on any unknown property or bad value
    assert checked.data[0].type == "heatmap"
    assert np.array_equal(fig.data[0].z, view.values(res)) and fig.data[0].customdata.shape == (n, n, 4)
    assert len(checked.layout.shapes) == n and checked.layout.title.text == view.title
    ticks = checked.layout.yaxis.ticktext
    assert ticks[0].startswith("1" if numbers_only else "1. caption 0 &lt;b&gt;")
    if view.sums_axis == 1:
        assert "Σ row = 1.00" in ticks[0]
