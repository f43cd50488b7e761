"""The adaptive allocation rule never breaks the study's rules, whatever the ratings so far
(Hypothesis over random rating histories), and the stopping rule ends allocation."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from quality.adaptive_rule import (
    STRATA_TOLERANCE, PoolState, Rule, choose, half_width, open_images, priority, priors_estimate, stopped,
)


@st.composite
def histories(draw):
    size = draw(st.integers(1, 25))
    rule = Rule(
        min_raters=(lo := draw(st.integers(1, 3))), max_raters=draw(st.integers(lo, 7)),
        half_width=draw(st.floats(0.0, 3.0)), sigma0_sq=draw(st.floats(0.05, 6.0)),
        tau_sq=draw(st.one_of(st.none(), st.floats(0.05, 4.0))), prior_weight=draw(st.floats(2.0, 200.0)),
    )
    state = PoolState.empty(
        size, stratum=np.array(draw(st.lists(st.integers(0, 3), min_size=size, max_size=size))),
        q=np.array(draw(st.lists(st.one_of(st.just(np.nan), st.floats(0, 10)), min_size=size, max_size=size))),
    )
    for i in range(size):
        for score in draw(st.lists(st.integers(0, 10), max_size=rule.max_raters)):
            state.add(i, score)
        state.taken[i] += draw(st.integers(0, rule.max_raters - int(state.taken[i])))  # being rated now
    mine = np.array(draw(st.lists(st.booleans(), min_size=size, max_size=size)))
    return state, rule, mine


def stratum_load(state):
    return {c: state.taken[state.stratum == c].mean() for c in np.unique(state.stratum)}


@settings(max_examples=400, deadline=None)
@given(histories())
def test_choice_obeys_every_rule(history):
    state, rule, mine = history
    k = choose(state, rule, mine)
    eligible = open_images(state, rule) & ~mine
    if k is None:
        assert not eligible.any()
        return
    assert not mine[k], "the same rater twice on one image"
    assert state.taken[k] < rule.max_raters
    assert not stopped(state, rule)[k], "an image that meets the stopping rule"
    load = stratum_load(state)
    floor = min(load[c] for c in np.unique(state.stratum[eligible]))
    assert load[state.stratum[k]] <= floor + STRATA_TOLERANCE + 1e-9, "strata out of balance"
    allowed = eligible & np.array([load[c] <= floor + STRATA_TOLERANCE + 1e-9 for c in state.stratum])
    assert priority(state, rule)[k] >= priority(state, rule)[allowed].max() - 1e-12
    if (state.taken[allowed] < rule.min_raters).any():
        assert state.taken[k] < rule.min_raters, "an image below the minimum waits while others get more"


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 30), st.integers(0, 2**31), st.floats(0.3, 2.0), st.integers(3, 12))
def test_allocating_to_the_end_keeps_the_rules_and_the_stopping_rule_ends_it(size, seed, hw, raters):
    """Raters take batches until nothing is left: every image gets between min and max
    distinct raters, and allocation stops once every label meets the rule or is full."""
    rng = np.random.default_rng(seed)
    rule = Rule(min_raters=2, max_raters=5, half_width=hw)
    truth = rng.uniform(0, 10, size)
    spread = rng.uniform(0.2, 2.5, size)
    state = PoolState.empty(size, stratum=rng.integers(0, 3, size))
    had = np.zeros((raters, size), dtype=bool)
    for _round in range(100):
        progressed = False
        for r in range(raters):
            for _ in range(4):  # a batch
                k = choose(state, rule, had[r])
                if k is None:
                    break
                assert not had[r, k]
                had[r, k] = True
                state.add(k, float(np.clip(np.rint(truth[k] + rng.normal(0, spread[k])), 0, 10)))
                progressed = True
        if not progressed:
            break
    assert state.taken.max() <= rule.max_raters
    assert (had.sum(0) == state.taken).all()
    done = stopped(state, rule) | (state.taken >= rule.max_raters) | (state.taken >= raters)
    assert done.all(), "allocation ended while an image could still take a rating"
    assert (state.n >= min(rule.min_raters, raters)).all()


def test_agreeing_raters_meet_the_rule_at_the_minimum_and_disputes_need_more():
    rule = Rule(min_raters=2, max_raters=7, half_width=1.0, sigma0_sq=1.0)
    state = PoolState.empty(2)
    for score in (5, 5):
        state.add(0, score)
    for score in (1, 9):
        state.add(1, score)
    assert stopped(state, rule).tolist() == [True, False]
    assert half_width(state, rule)[1] > rule.half_width
    assert choose(state, rule) == 1


def test_prior_weight_is_heavy_when_spreads_differ_only_by_sampling():
    rng = np.random.default_rng(0)

    def state_with(spreads):
        state = PoolState.empty(len(spreads))
        for i, sd in enumerate(spreads):
            for _ in range(3):
                state.add(i, 5 + rng.normal(0, sd))
        return state

    same = priors_estimate(state_with(np.full(400, 1.0)))
    varied = priors_estimate(state_with(rng.lognormal(0, 0.8, 400)))
    assert same["prior_weight"] > 4 * varied["prior_weight"]
    assert 0.8 < same["sigma0_sq"] < 1.25
