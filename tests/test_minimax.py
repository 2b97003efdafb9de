"""lib.minimax: iterates against closed forms, spectra against numpy, and argument checks."""

import math

import numpy as np
import pytest
import sympy as sp

from lib.minimax import analysis as mm

SADDLE = np.array(mm.SADDLE)


def test_gradient_is_sympys_derivative_of_the_objective():
    x, y = sp.symbols("x y")
    f = mm.objective(x, y)
    assert mm.gradient(x, y) == (sp.diff(f, x), sp.diff(f, y))


@pytest.mark.parametrize("gamma", [0.01, 0.1, 0.5, 1.0, 2.0])
@pytest.mark.parametrize("z0", [(2.0, 1.5), (0.0, 0.0), (-3.0, 4.0)])
def test_simultaneous_gda_matches_its_closed_form(gamma, z0):
    path = mm.iterate("simultaneous", gamma, z0, 300)
    for k in (0, 1, 10, 100, 300):
        closed = mm.gda_closed_form(gamma, z0, k)
        scale = mm.gda_distance_to_saddle(gamma, z0, k)  # = ||z_k - z*||
        assert np.linalg.norm(path[k] - closed) <= 1e-10 * scale
        assert abs(np.linalg.norm(path[k] - SADDLE) - scale) <= 1e-10 * scale
        # the distance to the origin is within ||z*|| = sqrt(2) of the distance to z*
        assert abs(np.linalg.norm(path[k]) - scale) <= math.sqrt(2) + 1e-10 * scale


@pytest.mark.parametrize("gamma", [0.05, 0.1, 0.3])
def test_distance_to_the_origin_grows_by_sqrt_one_plus_gamma_squared_per_step(gamma):
    # the homework's rate, read off the iterates alone: ||z_k||^(1/k) over a long run
    steps = int(40 / gamma**2)  # (1 + gamma^2)^(steps/2) is about e^20: the sqrt(2) offset fades
    distances = np.linalg.norm(mm.iterate("simultaneous", gamma, (0.0, 0.0), steps), axis=1)
    half = steps // 2
    measured = (distances[-1] / distances[half]) ** (1 / (steps - half))
    assert measured == pytest.approx(math.sqrt(1 + gamma**2), rel=1e-7)


@pytest.mark.parametrize("gamma", [0.2, 1.0, 3.0])
def test_gda_matrix_power_is_the_power_of_the_iteration_matrix(gamma):
    matrix = mm.iteration_matrix("simultaneous", gamma)
    for k in (0, 1, 7, 40):
        expected = np.linalg.matrix_power(matrix, k)
        assert np.allclose(
            mm.gda_matrix_power(gamma, k), expected, rtol=1e-12, atol=1e-12 * np.abs(expected).max()
        )


def test_simultaneous_gda_moves_away_from_every_start_but_the_saddle():
    assert np.array_equal(mm.iterate("simultaneous", 0.5, (1.0, 1.0), 5), np.ones((6, 2)))
    path = mm.iterate("simultaneous", 1e-3, (1.0, 1.0 + 1e-9), 2000)
    distances = np.linalg.norm(path - SADDLE, axis=1)
    assert np.all(np.diff(distances) > 0)


@pytest.mark.parametrize("method", mm.METHODS)
@pytest.mark.parametrize("gamma", [0.1, 0.5, 1.3])
def test_numeric_and_symbolic_iteration_matrices_agree(method, gamma):
    symbolic = mm.symbolic_iteration_matrix(method).subs(mm.GAMMA, gamma)
    assert np.allclose(
        np.array(symbolic, dtype=float), mm.iteration_matrix(method, gamma), rtol=0, atol=1e-14
    )


@pytest.mark.parametrize("method", mm.METHODS)
def test_iteration_matrix_propagates_the_iterates(method):
    gamma, z0 = 0.4, np.array([2.0, -1.0])
    path = mm.iterate(method, gamma, z0, 30)
    matrix = mm.iteration_matrix(method, gamma)
    state = np.concatenate([z0 - SADDLE, z0 - SADDLE]) if method == "optimistic" else z0 - SADDLE
    for k in range(1, 31):
        state = matrix @ state
        assert np.allclose(state[:2], path[k] - SADDLE, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("method", mm.METHODS)
def test_spectral_radius_closed_form_matches_numpy_eigenvalues(method):
    for gamma in np.linspace(0.01, 3.0, 300):
        numeric = np.abs(np.linalg.eigvals(mm.iteration_matrix(method, gamma))).max()
        # 1e-6: at the double eigenvalues (alternating, gamma = 2; optimistic, gamma = 1/2)
        # numpy's eigenvalues are only accurate to about sqrt(machine epsilon)
        assert mm.spectral_radius(method, gamma) == pytest.approx(numeric, rel=1e-6)


@pytest.mark.parametrize("method", mm.METHODS)
@pytest.mark.parametrize("gamma", [0.3, 0.5, 0.9, 1.0, 2.0, 2.4])
def test_measured_growth_rate_matches_the_spectral_radius(method, gamma):
    measured = mm.estimate_growth_rate(method, gamma, steps=2000)
    assert measured == pytest.approx(mm.spectral_radius(method, gamma), abs=2e-3)


@pytest.mark.parametrize(
    "method, gamma, expected",
    [
        ("simultaneous", 1e-6, "diverges"),
        ("simultaneous", 0.5, "diverges"),
        ("alternating", 0.5, "cycles"),
        ("alternating", 1.999, "cycles"),
        ("alternating", 2.0, "diverges"),
        ("alternating", 2.5, "diverges"),
        ("extragradient", 0.5, "converges"),
        ("extragradient", 1.0, "cycles"),
        ("extragradient", 1.01, "diverges"),
        ("optimistic", 0.5, "converges"),
        ("optimistic", 1 / math.sqrt(3), "cycles"),
        ("optimistic", math.sqrt(3) / 3, "cycles"),
        ("optimistic", 0.6, "diverges"),
    ],
)
def test_regime_table(method, gamma, expected):
    assert mm.regime(method, gamma) == expected


@pytest.mark.parametrize("method", mm.METHODS[1:])
def test_bisection_on_the_eigenvalues_finds_the_step_size_limits(method):
    assert mm.stability_limit(method) == pytest.approx(mm.STEP_SIZE_LIMITS[method], rel=1e-8)


@pytest.mark.parametrize("method", mm.METHODS)
@pytest.mark.parametrize("gamma", [0.3, 0.8, 1.5, 2.3])
def test_regime_agrees_with_the_spectral_radius(method, gamma):
    rho = mm.spectral_radius(method, gamma)
    expected = "converges" if rho < 1 else "diverges" if rho > 1 else "cycles"
    assert mm.regime(method, gamma) == expected


def test_alternating_gda_conserves_a_positive_definite_quadratic_form():
    for gamma in (0.3, 1.0, 1.9):
        form = np.array([[1.0, -gamma / 2], [-gamma / 2, 1.0]])  # positive definite for gamma < 2
        w = mm.iterate("alternating", gamma, (2.0, 0.5), 1000) - SADDLE
        energy = np.einsum("ki,ij,kj->k", w, form, w)
        assert np.allclose(energy, energy[0], rtol=1e-11)


def test_alternating_gda_grows_linearly_at_step_size_two():
    w0 = np.array([1.0, -0.5])
    nilpotent = mm.iteration_matrix("alternating", 2.0) + np.eye(2)  # M = -I + N, N^2 = 0
    assert np.allclose(nilpotent @ nilpotent, 0)
    w = mm.iterate("alternating", 2.0, SADDLE + w0, 1000) - SADDLE
    for k in (10, 100, 1000):  # M^k w0 = (-1)^k (w0 - k N w0)
        assert np.allclose(w[k], (-1) ** k * (w0 - k * nilpotent @ w0), rtol=1e-12, atol=1e-9)


def test_extragradient_is_periodic_at_step_size_one():
    path = mm.iterate("extragradient", 1.0, (2.0, 0.5), 40)
    assert np.allclose(path[4::4], path[0], atol=1e-12)
    assert np.linalg.norm(path[1] - path[0]) > 0.5


def test_optimistic_gda_settles_on_a_six_cycle_at_its_step_size_limit():
    path = mm.iterate("optimistic", 1 / math.sqrt(3), (2.0, 0.5), 600)
    tail = path[500:]
    assert np.allclose(tail[6:], tail[:-6], atol=1e-12)  # period 6
    assert np.linalg.norm(tail - SADDLE, axis=1).min() > 0.1  # yet not at the saddle


def test_optimistic_first_step_is_a_gda_step():
    for gamma in (0.1, 0.7):
        assert np.allclose(
            mm.iterate("optimistic", gamma, (2.0, 0.5), 1)[1],
            mm.iterate("simultaneous", gamma, (2.0, 0.5), 1)[1],
            rtol=1e-15,
        )


@pytest.mark.parametrize("method, gamma", [("extragradient", 0.7), ("optimistic", 0.5)])
def test_convergent_methods_reach_the_saddle(method, gamma):
    path = mm.iterate(method, gamma, (-3.0, 4.0), 200)
    assert np.linalg.norm(path[-1] - SADDLE) < 1e-9


def test_iterate_shape_and_start():
    path = mm.iterate("alternating", 0.3, [2, 3], 7)
    assert path.shape == (8, 2) and path.dtype == np.float64
    assert np.array_equal(path[0], [2.0, 3.0])
    assert mm.iterate("extragradient", 0.3, (2.0, 3.0), 0).shape == (1, 2)


BAD_ARGUMENTS = [
    (mm.iterate, ("gda", 0.1, (0, 0), 5), r"method must be one of"),
    (mm.iterate, ("Simultaneous", 0.1, (0, 0), 5), r"method must be one of"),
    (mm.iterate, (None, 0.1, (0, 0), 5), r"method must be one of"),
    (mm.iterate, ("simultaneous", 0.0, (0, 0), 5), r"gamma must be a positive"),
    (mm.iterate, ("simultaneous", -0.1, (0, 0), 5), r"gamma must be a positive"),
    (mm.iterate, ("simultaneous", float("nan"), (0, 0), 5), r"gamma must be a positive"),
    (mm.iterate, ("simultaneous", float("inf"), (0, 0), 5), r"gamma must be a positive"),
    (mm.iterate, ("simultaneous", True, (0, 0), 5), r"gamma must be a positive"),
    (mm.iterate, ("simultaneous", "0.1", (0, 0), 5), r"gamma must be a positive"),
    (mm.iterate, ("simultaneous", 0.1, (0, 0, 0), 5), r"z0 must be a point.*shape \(3,\)"),
    (mm.iterate, ("simultaneous", 0.1, [[0, 0]], 5), r"z0 must be a point.*shape \(1, 2\)"),
    (mm.iterate, ("simultaneous", 0.1, 1.0, 5), r"z0 must be a point"),
    (mm.iterate, ("simultaneous", 0.1, (0, float("nan")), 5), r"z0 must be a point"),
    (mm.iterate, ("simultaneous", 0.1, ("a", "b"), 5), r"z0 must be a point"),
    (mm.iterate, ("simultaneous", 0.1, (0, 0), -1), r"steps must be a non-negative integer"),
    (mm.iterate, ("simultaneous", 0.1, (0, 0), 2.5), r"steps must be a non-negative integer"),
    (mm.iteration_matrix, ("momentum", 0.1), r"method must be one of"),
    (mm.iteration_matrix, ("optimistic", 0), r"gamma must be a positive"),
    (mm.symbolic_iteration_matrix, ("sgd",), r"method must be one of"),
    (mm.spectral_radius, ("extragradient", -1.0), r"gamma must be a positive"),
    (mm.spectral_radius, ("EG", 1.0), r"method must be one of"),
    (mm.regime, ("alternating", 0.0), r"gamma must be a positive"),
    (mm.stability_limit, ("simultaneous",), r"method: simultaneous GDA diverges"),
    (mm.stability_limit, ("extragradient", 0.5), r"upper: extragradient is still stable"),
    (mm.stability_limit, ("extragradient", -1.0), r"upper must be a positive"),
    (mm.gda_matrix_power, (0.0, 3), r"gamma must be a positive"),
    (mm.gda_matrix_power, (0.5, -1), r"k must be a non-negative integer"),
    (mm.gda_closed_form, (0.5, (1, 2, 3), 3), r"z0 must be a point"),
    (mm.gda_distance_to_saddle, (0.5, (1, 2), 1.5), r"k must be a non-negative integer"),
    (mm.estimate_growth_rate, ("optimistic", 0.5, 1), r"steps must be at least 2"),
    (mm.estimate_growth_rate, ("optimistic", -0.5), r"gamma must be a positive"),
]


@pytest.mark.parametrize(
    "function, args, message",
    BAD_ARGUMENTS,
    ids=[f"{f.__name__}-{i}" for i, (f, _, _) in enumerate(BAD_ARGUMENTS)],
)
def test_invalid_arguments_raise_value_error_naming_the_argument(function, args, message):
    with pytest.raises(ValueError, match=message):
        function(*args)


def test_numpy_scalars_are_accepted():
    path = mm.iterate("simultaneous", np.float64(0.5), np.array([2.0, 0.0]), np.int64(3))
    assert path.shape == (4, 2)
    assert mm.spectral_radius("simultaneous", np.float32(1.0)) == pytest.approx(math.sqrt(2))
