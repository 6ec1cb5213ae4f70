"""gnnedu.widgets.message_passing (notebooks 02, 03): drive the controls as a user would, check
state and figure."""

import ipywidgets
import networkx as nx
import numpy as np
import pytest

from gnnedu import mp, plot
from gnnedu.data import toy
from gnnedu.widgets import message_passing as gw

TRI_POS = {0: (0.0, 1.0), 1: (-1.0, 0.0), 2: (1.0, 0.0)}


@pytest.fixture
def stepper():
    w, b = toy.article_weights()
    return gw.MessagePassingStepper(toy.triangle_graph(), toy.triangle_features(), w, b,
                                    pos=TRI_POS)


@pytest.fixture(scope="module")
def karate():
    return nx.karate_club_graph()


def _title(fig):
    return fig.axes[0].get_title() or fig.get_suptitle()


def test_stepper_is_a_real_widget_box(stepper):
    assert isinstance(stepper.widget, ipywidgets.VBox)
    assert {"gnnedu-widget", "gnnedu-stepper"} <= set(stepper.widget._dom_classes)
    assert isinstance(stepper.round_slider, ipywidgets.IntSlider)
    assert isinstance(stepper.substep_slider, ipywidgets.SelectionSlider)
    assert isinstance(stepper.node_dropdown, ipywidgets.Dropdown)
    assert isinstance(stepper.predict_checkbox, ipywidgets.Checkbox)
    assert isinstance(stepper.prediction, ipywidgets.Text)
    assert isinstance(stepper.reveal_button, ipywidgets.Button)
    assert "gnnedu-arithmetic" in stepper.arithmetic._dom_classes
    assert isinstance(stepper.image, ipywidgets.Image) and stepper.image.value[:4] == b"\x89PNG"
    bundle = stepper._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle


def test_stepper_default_view_asks_for_a_prediction(stepper):
    s = stepper.state
    assert (s["round"], s["substep"], s["node"]) == (1, "aggregate", 0)
    assert s["hidden"] and s["sources"] == [1, 2]
    np.testing.assert_allclose(s["answer"], [0.0, 0.5, 0.5])  # mean of h^(0)_v2 and h^(0)_v3
    text = stepper.arithmetic.value
    assert "N(v1) = {v2, v3}" in text and "m = ?" in text and "predict" in text
    assert "0.5*" not in text  # the aggregation itself is not shown yet
    boxes = [t.get_text() for t in stepper.figure.axes[0].texts]
    assert boxes.count("[?, ?, ?]") == 3  # no box gives the rule away
    assert "predict v1's vector after 'aggregate'" in _title(stepper.figure)
    assert not stepper.prediction.disabled and not stepper.reveal_button.disabled


def test_stepper_reveal_checks_a_right_prediction(stepper):
    png = stepper.image.value
    stepper.prediction.value = "0, 0.5, 0.5"
    stepper.reveal_button.click()
    assert stepper.result["ok"] is True and "right" in stepper.feedback.value
    assert not stepper.state["hidden"] and "= [0, 0.5, 0.5]" in stepper.arithmetic.value
    assert "[0, 0.5, 0.5]" in [t.get_text() for t in stepper.figure.axes[0].texts]
    assert stepper.image.value != png and stepper.reveal_button.disabled


def test_stepper_reveal_checks_a_wrong_prediction_and_moving_hides_again(stepper):
    # the article's mistake: every node gets (0.5, 0.5, 0.5)
    stepper.prediction.value = "[0.5 0.5 0.5]"
    stepper.reveal_button.click()
    assert stepper.result["ok"] is False
    assert "not quite: 1 of 3 components off" in stepper.feedback.value
    assert "[0, 0.5, 0.5]" in stepper.feedback.value  # the true value is always given
    stepper.substep_slider.value = "transform"
    assert stepper.state["hidden"] and stepper.feedback.value == ""
    assert stepper.prediction.value == "" and stepper.result is None
    assert "W m = ?" in stepper.arithmetic.value
    stepper.reveal_button.click()  # revealing without a prediction just shows the value
    assert stepper.result["ok"] is None and not stepper.state["hidden"]
    assert "(W m)_0 = 0.2*0 + 0.3*0.5 + 0.5*0.5 = 0.4" in stepper.arithmetic.value


def test_stepper_without_predictions_shows_everything(stepper):
    stepper.predict_checkbox.value = False
    assert not stepper.state["hidden"] and stepper.reveal_button.disabled
    assert "= [0, 0.5, 0.5]" in stepper.arithmetic.value
    stepper.substep_slider.value = "gather"
    assert "transform" not in stepper.arithmetic.value
    stepper.predict_checkbox.value = True
    assert not stepper.state["hidden"]  # gather computes nothing: never hidden
    np.testing.assert_array_equal(stepper.state["vectors"], np.eye(3))  # round 1 sends h^(0)
    assert "Round 1, gather: node v1" in _title(stepper.figure)


def test_stepper_controls_change_state_and_picture(stepper):
    w, b = toy.article_weights()
    hs = mp.gcn_rounds(toy.triangle_features(), toy.triangle_adjacency(), w, b, rounds=2)
    stepper.predict_checkbox.value = False
    stepper.substep_slider.value = "gather"
    png0, redraws0 = stepper.image.value, stepper.redraws
    stepper.round_slider.value = 2
    assert stepper.redraws == redraws0 + 1 and stepper.image.value != png0
    np.testing.assert_allclose(stepper.state["vectors"], hs[1])  # round 2 sends h^(1)
    stepper.substep_slider.value = "activate"
    stepper.node_dropdown.value = 2
    np.testing.assert_allclose(stepper.state["vectors"], hs[2])
    assert stepper.state["sources"] == [0, 1]
    assert "Round 2, activate: node v3" in _title(stepper.figure)
    assert plot.format_vector(hs[2][2], 4) in stepper.arithmetic.value
    stepper.substep_slider.value = "aggregate"
    np.testing.assert_allclose(stepper.state["vectors"][2], (hs[1][0] + hs[1][1]) / 2)


def test_stepper_state_hides_only_the_asked_value():
    w, b = toy.article_weights()
    traces = mp.trace(toy.triangle_features(), toy.triangle_adjacency(), w, b, rounds=2)
    names = list(toy.TRIANGLE_NODES)
    shown = gw.stepper_state(traces, toy.triangle_features(), 2, "activate", 2, w, b, names)
    hidden = gw.stepper_state(traces, toy.triangle_features(), 2, "activate", 2, w, b, names,
                              revealed=False)
    assert hidden["hidden"] and not shown["hidden"]
    np.testing.assert_array_equal(hidden["answer"], shown["answer"])
    np.testing.assert_allclose(hidden["answer"], [0.705, 0.785, 0.895])
    assert "h^(2)_v3 = ?" in hidden["text"]
    assert hidden["text"].startswith(shown["text"].rsplit("\n5 activate", 1)[0])
    gathered = gw.stepper_state(traces, toy.triangle_features(), 1, "gather", 0, w, b,
                                revealed=False)
    assert not gathered["hidden"] and gathered["answer"] is None


@pytest.mark.parametrize("typed, ok, words", [
    ("0.5, 0.5, 0.65", True, "right"),
    ("0.504 0.5 0.65", True, "right"),          # within the tolerance
    ("[0.5, 0.5, 0.6]", False, "component 2: you typed 0.6"),
    ("0.5, 0.5", False, "you typed 2 numbers"),
    ("half, 0.5, 0.65", False, "could not read"),
    ("  ", None, "no prediction"),
])
def test_check_prediction(typed, ok, words):
    result = gw.check_prediction(typed, np.array([0.5, 0.5, 0.65]))
    assert result["ok"] is ok and words in result["message"]
    assert result["message"].endswith("the value is [0.5, 0.5, 0.65]")


def test_stepper_state_rejects_bad_positions():
    w, b = toy.article_weights()
    traces = mp.trace(toy.triangle_features(), toy.triangle_adjacency(), w, b, rounds=2)
    with pytest.raises(ValueError):
        gw.stepper_state(traces, toy.triangle_features(), 3, "gather", 0, w, b)
    with pytest.raises(ValueError):
        gw.stepper_state(traces, toy.triangle_features(), 1, "gather", 5, w, b)
    with pytest.raises(ValueError, match="substep"):
        gw.stepper_state(traces, toy.triangle_features(), 1, "relu", 0, w, b)


def test_receptive_field_explorer(karate):
    toy_g = toy.toy_bipartite_graph(threshold=toy.LIKE_THRESHOLD)
    ex = gw.ReceptiveFieldExplorer({"karate": karate, "toy": toy_g}, max_k=4, k=1)
    assert {"gnnedu-widget", "gnnedu-receptive-field"} <= set(ex.widget._dom_classes)
    a = nx.to_numpy_array(karate, weight=None)
    assert ex.state["field"] == mp.receptive_field(a, 0, 1).tolist()
    assert ex.state["size"] == karate.degree[0] + 1
    png = ex.image.value
    ex.k_slider.value = 3
    assert ex.state["size"] == len(mp.receptive_field(a, 0, 3)) and ex.image.value != png
    assert f"{ex.state['size']} of 34 nodes" in _title(ex.figure)
    ex.node_dropdown.value = 33
    assert ex.state["node"] == 33
    redraws = ex.redraws
    ex.graph_dropdown.value = "toy"
    assert ex.redraws == redraws + 1  # one redraw although the node list changed too
    assert ex.state["graph"] == "toy" and ex.state["node"] == 0
    assert [v for _, v in ex.node_dropdown.options] == list(range(11))
    assert ex.node_dropdown.options[1][0] == "1: Ben"
    ex.node_dropdown.value = 1
    ex.k_slider.value = 2
    ex.self_loops_checkbox.value = False
    assert set(ex.state["field"]) <= set(range(5))  # even k without self-loops: users only
    ex.self_loops_checkbox.value = True
    assert set(ex.state["field"]) & set(range(5, 11))


def test_graph_nodes_must_be_integers():
    with pytest.raises(ValueError, match="0..n-1"):
        gw.graph_adjacency(nx.path_graph(["a", "b"]))
    with pytest.raises(ValueError):
        gw.ReceptiveFieldExplorer({})


def test_graph_case_validation(karate):
    with pytest.raises(ValueError, match="features"):
        gw.GraphCase(karate, np.zeros((34, 2)), ["only one name"])
    with pytest.raises(ValueError, match="permutation"):
        gw.GraphCase(karate, np.zeros((34, 1)), ["f"], order=[0] * 34)


def test_aggregator_explorer(karate):
    h0 = np.zeros((34, 2))
    h0[0, 0] = h0[33, 1] = 1.0
    case = gw.GraphCase(karate, h0, ["from 0", "from 33"])
    ex = gw.AggregatorExplorer({"karate": case}, max_depth=6, depth=2, how="mean")
    assert {"gnnedu-widget", "gnnedu-aggregator"} <= set(ex.widget._dom_classes)
    a = nx.to_numpy_array(karate, weight=None)
    assert len(ex.state["layers"]) == 3
    np.testing.assert_allclose(ex.state["layers"][2], mp.propagate_features(h0, a, "mean", 2)[2])
    png = ex.image.value
    ex.aggregator_dropdown.value = "sum"
    assert ex.state["how"] == "sum" and ex.image.value != png
    np.testing.assert_allclose(ex.state["layers"][1], (a + np.eye(34)) @ h0)
    ex.self_loops_checkbox.value = False
    np.testing.assert_allclose(ex.state["layers"][1], a @ h0)
    ex.depth_slider.value = 6
    assert len(ex.state["layers"]) == 7 and len(ex.state["spread"]) == 7
    for layer in ex.state["scaled"]:
        assert np.abs(layer).max() == pytest.approx(1.0)
    assert "sum over N(i), without self-loops" in ex.figure.get_suptitle()
    heat = [ax for ax in ex.figure.axes if ax.images]
    assert len(heat) == 2 and heat[0].images[0].get_array().shape == (34, 7)


def test_aggregator_state_is_pure():
    a = toy.triangle_adjacency()
    s1 = gw.aggregator_state(a, np.eye(3), "max", True, 3)
    s2 = gw.aggregator_state(a, np.eye(3), "max", True, 3)
    np.testing.assert_array_equal(s1["layers"][3], np.ones((3, 3)))
    np.testing.assert_array_equal(s1["spread"], s2["spread"])
    assert s1["spread"][-1] == 0.0


def _karate_attention_case(karate):
    adj = gw.graph_adjacency(karate)
    leaders = np.zeros((34, 2))
    leaders[0, 0] = leaders[33, 1] = 1.0
    near = mp.propagate_features(leaders, adj, "mean", 2)[-1]
    feats = np.column_stack([near / near.max(axis=0), adj.sum(1) / adj.sum(1).max()])
    return gw.GraphCase(karate, feats, ["near 0", "near 33", "degree"])


def test_attention_presets_and_head_vectors():
    presets = gw.attention_presets(["x", "y"])
    assert list(presets) == [gw.UNIFORM_PRESET, "+ x", "- x", "+ y", "- y"]
    np.testing.assert_array_equal(presets["- y"], [0.0, -1.0])
    vecs = gw.head_vectors(presets["+ x"], 3.0, 4)
    assert len(vecs) == 4
    np.testing.assert_array_equal(vecs[0], [0.0, 0.0, 3.0, 0.0])  # head 1: senders only
    assert not np.allclose(vecs[1], vecs[0]) and not np.allclose(vecs[1], vecs[2])
    np.testing.assert_array_equal(gw.head_vectors(presets["+ x"], 3.0, 4)[3], vecs[3])  # seeded
    with pytest.raises(ValueError):
        gw.head_vectors(presets["+ x"], 1.0, 0)


def test_attention_state_uniform_preset_is_the_mean(karate):
    case = _karate_attention_case(karate)
    adj = gw.graph_adjacency(karate)
    zero = gw.attention_presets(case.feature_names)[gw.UNIFORM_PRESET]
    state = gw.attention_state(adj, case.features, zero, 5.0, 1, 0)
    np.testing.assert_allclose(state["alpha"], mp.propagation_matrix(adj, "mean", True))
    np.testing.assert_allclose(state["ratio"][adj + np.eye(34) > 0], 1.0)
    assert state["entropy_mean"] == pytest.approx(1.0)
    assert state["sources"] == [0] + [int(j) for j in np.flatnonzero(adj[0])]
    np.testing.assert_allclose(state["weights"], 1 / 17)


def test_attention_state_follows_the_preset_and_averaging_heads_flattens(karate):
    case = _karate_attention_case(karate)
    adj = gw.graph_adjacency(karate)
    presets = gw.attention_presets(case.feature_names)
    hubs = gw.attention_state(adj, case.features, presets["+ degree"], 6.0, 1, 0)
    src = hubs["sources"]
    deg = adj.sum(1)[src]
    # with "+ degree" node 0's weights rank its senders by degree (self-loop included)
    assert list(np.argsort(hubs["weights"], kind="stable")) == list(
        np.argsort(case.features[src, 2], kind="stable"))
    assert hubs["weights"][np.argmax(deg)] > 1 / len(src) > hubs["weights"][np.argmin(deg)]
    assert hubs["entropy_mean"] < 0.9
    many = gw.attention_state(adj, case.features, presets["+ degree"], 6.0, 8, 0)
    assert many["alphas"].shape == (8, 34, 34)
    np.testing.assert_allclose(many["alpha"], many["alphas"].mean(axis=0))
    np.testing.assert_allclose(many["alphas"][0], hubs["alpha"])  # head 1 is the preset
    assert many["entropy_mean"] > many["entropy_heads"]  # the average is flatter than a head
    with pytest.raises(ValueError):
        gw.attention_state(adj, case.features, presets["+ degree"], 1.0, 1, 34)


def test_attention_explorer(karate):
    case = _karate_attention_case(karate)
    toy_case = gw.GraphCase(toy.triangle_graph(), toy.triangle_features(), ["a", "b", "c"])
    ex = gw.AttentionExplorer({"karate": case, "triangle": toy_case},
                              {"karate": plot.spring_positions(karate), "triangle": TRI_POS})
    assert {"gnnedu-widget", "gnnedu-attention"} <= set(ex.widget._dom_classes)
    assert ex.preset_dropdown.value == "+ near 0"
    assert ex.figure is not None and ex.image.value
    first, redraws = ex.state["alpha"].copy(), ex.redraws
    ex.scale_slider.value = 0.0
    assert ex.redraws == redraws + 1
    np.testing.assert_allclose(ex.state["alpha"], mp.propagation_matrix(
        gw.graph_adjacency(karate), "mean", True))
    assert not np.allclose(first, ex.state["alpha"])
    ex.scale_slider.value = 4.0
    ex.heads_slider.value = 3
    assert ex.state["alphas"].shape[0] == 3 and "3 head(s)" in _title(ex.figure)
    ex.node_dropdown.value = 33
    assert ex.state["node"] == 33 and len(ex.state["sources"]) == 18
    redraws = ex.redraws
    ex.graph_dropdown.value = "triangle"  # one redraw, with the triangle's presets and nodes
    assert ex.redraws == redraws + 1
    assert ex.state["graph"] == "triangle" and ex.state["node"] == 0
    assert ex.preset_dropdown.value == "+ a" and ex.state["alpha"].shape == (3, 3)
    with pytest.raises(ValueError):
        gw.AttentionExplorer({})
