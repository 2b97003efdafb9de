"""The bilinear game f(x, y) = (x - 1)(y - 1): exact analysis and first-order dynamics.

Homework §1.1 and the chapter ``book/minimax.ipynb``. The game's only stationary point is the
saddle z* = (1, 1). In the shifted coordinates w = z - z* every method below is a *linear* map
(of w, or of the pair (w_k, w_{k-1}) for optimistic GDA), so its fate is decided by the
eigenvalues of its iteration matrix.

With the step size gamma > 0, grad_x f = y - 1, grad_y f = x - 1 and the game's vector field
F(z) = (grad_x f, -grad_y f), the methods are:

* ``"simultaneous"`` GDA:  x+ = x - gamma grad_x f(x, y),  y+ = y + gamma grad_y f(x, y);
* ``"alternating"`` GDA:   x+ as above, then y+ = y + gamma grad_y f(x+, y) (y sees the new x);
* ``"extragradient"`` (Korpelevich 1976): z_half = z - gamma F(z), then z+ = z - gamma F(z_half);
* ``"optimistic"`` GDA (Daskalakis et al. 2018): z+ = z - 2 gamma F(z) + gamma F(z-), where z-
  is the previous iterate; the first step uses z_{-1} = z_0 (so it is a plain GDA step).

One update rule (:func:`_step`) serves floats and sympy symbols alike, so the iteration matrices
that the chapter derives symbolically are those of the code that produces the numerical iterates.
"""

from __future__ import annotations

import math

import numpy as np
import sympy as sp

from lib.config import is_int, is_number, require

METHODS = ("simultaneous", "alternating", "extragradient", "optimistic")
SADDLE = (1.0, 1.0)  # z* = (x*, y*), the unique stationary point
GAMMA = sp.Symbol("gamma", positive=True)  # the step size, as a symbol

# Step size at which each method stops converging (or, for alternating GDA, stops cycling):
# the first gamma > 0 with spectral radius 1. Derived and asserted in the chapter.
STEP_SIZE_LIMITS = {
    "simultaneous": 0.0,  # spectral radius sqrt(1 + gamma^2) > 1 for every gamma > 0
    "alternating": 2.0,  # eigenvalues on the unit circle below 2; repeated -1 (Jordan) at 2
    "extragradient": 1.0,  # rho^2 = 1 - gamma^2 + gamma^4
    "optimistic": 1.0 / math.sqrt(3.0),  # see spectral_radius
}
# What a method does for 0 < gamma < limit and at gamma = limit (diverges above the limit).
_BELOW_LIMIT = {"alternating": "cycles", "extragradient": "converges", "optimistic": "converges"}
_AT_LIMIT = {"alternating": "diverges", "extragradient": "cycles", "optimistic": "cycles"}


def objective(x, y):
    """f(x, y) = (x - 1)(y - 1); works on floats, arrays and sympy expressions."""
    return (x - 1) * (y - 1)


def gradient(x, y):
    """(grad_x f, grad_y f) = (y - 1, x - 1); the chapter checks it against sympy's diff."""
    return (y - 1, x - 1)


def _step(method, gamma, z, z_prev):
    """One update of ``method`` from z = (x, y), with z_prev the previous iterate (optimistic).

    Plain arithmetic on the two coordinates, so that it runs on floats and sympy symbols alike.
    """
    x, y = z
    if method == "simultaneous":
        gx, gy = gradient(x, y)
        return (x - gamma * gx, y + gamma * gy)
    if method == "alternating":
        gx, _ = gradient(x, y)
        x_new = x - gamma * gx
        _, gy = gradient(x_new, y)  # the max player reacts to the min player's new move
        return (x_new, y + gamma * gy)
    if method == "extragradient":
        gx, gy = gradient(x, y)
        x_half, y_half = x - gamma * gx, y + gamma * gy  # extrapolation
        gx, gy = gradient(x_half, y_half)
        return (x - gamma * gx, y + gamma * gy)  # update from z with the midpoint's gradient
    if method == "optimistic":
        gx, gy = gradient(x, y)
        px, py = gradient(*z_prev)
        return (x - 2 * gamma * gx + gamma * px, y + 2 * gamma * gy - gamma * py)
    raise ValueError(f"method must be one of {METHODS}, got {method!r}")


def _check_method(method):
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    return method


def _check_gamma(gamma):
    require(is_number(gamma, strict=True), "gamma", gamma, "a positive finite number")
    return float(gamma)


def _check_count(name, value):
    require(is_int(value, minimum=0), name, value, "a non-negative integer")
    return value


def _check_point(z0):
    what = "z0 must be a point (x0, y0) of two finite numbers, got"
    try:
        point = np.asarray(z0, dtype=float)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{what} {z0!r}") from err
    if point.shape != (2,) or not np.all(np.isfinite(point)):
        raise ValueError(f"{what} shape {point.shape}: {z0!r}")
    return point


def iterate(method: str, gamma: float, z0, steps: int) -> np.ndarray:
    """The iterates z_0, ..., z_steps of ``method`` with step size ``gamma``, in float64.

    Returns an array of shape ``(steps + 1, 2)`` whose row k is (x_k, y_k). Optimistic GDA
    starts from z_{-1} = z_0.
    """
    method, gamma = _check_method(method), _check_gamma(gamma)
    steps = _check_count("steps", steps)
    point = _check_point(z0)
    path = np.empty((steps + 1, 2))
    path[0] = point
    z = z_prev = (float(point[0]), float(point[1]))
    for k in range(1, steps + 1):
        z, z_prev = _step(method, gamma, z, z_prev), z
        path[k] = z
    return path


def symbolic_iteration_matrix(method: str, gamma=GAMMA) -> sp.Matrix:
    """The matrix M with w_{k+1} = M w_k in shifted coordinates w = z - z*, derived by sympy.

    It is the Jacobian of one update (:func:`_step`) applied to symbols; the update is affine
    with fixed point z*, so the Jacobian is the whole map. For optimistic GDA the state is
    (w_k, w_{k-1}) and M is the 4 x 4 companion matrix. ``gamma`` may be a number or a symbol.
    """
    _check_method(method)
    x, y, xp, yp = sp.symbols("x y x_prev y_prev", real=True)
    new = sp.Matrix(_step(method, gamma, (x, y), (xp, yp)))
    if method == "optimistic":
        state = sp.Matrix([x, y, xp, yp])
        return sp.expand(sp.Matrix.vstack(new, sp.Matrix([x, y])).jacobian(state))
    return sp.expand(new.jacobian(sp.Matrix([x, y])))


def iteration_matrix(method: str, gamma: float) -> np.ndarray:
    """The iteration matrix in float64: images under one update of the unit vectors around z*.

    2 x 2 for the one-step methods, 4 x 4 (on (w_k, w_{k-1})) for optimistic GDA.
    """
    method, gamma = _check_method(method), _check_gamma(gamma)
    dim = 4 if method == "optimistic" else 2
    columns = []
    for e in np.eye(dim):
        z = (SADDLE[0] + e[0], SADDLE[1] + e[1])
        z_prev = (SADDLE[0] + e[2], SADDLE[1] + e[3]) if dim == 4 else z
        x_new, y_new = _step(method, gamma, z, z_prev)
        image = [x_new - SADDLE[0], y_new - SADDLE[1]]
        columns.append(image + [e[0], e[1]] if dim == 4 else image)
    return np.array(columns).T


def gda_matrix_power(gamma: float, k: int) -> np.ndarray:
    """M^k for simultaneous GDA: (1 + gamma^2)^(k/2) times the rotation by k arctan(gamma)."""
    gamma, k = _check_gamma(gamma), _check_count("k", k)
    angle = k * math.atan(gamma)
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    return (1.0 + gamma * gamma) ** (k / 2) * rotation


def gda_closed_form(gamma: float, z0, k: int) -> np.ndarray:
    """The k-th simultaneous GDA iterate z_k = z* + M^k (z_0 - z*), from the closed form."""
    point = _check_point(z0)
    saddle = np.array(SADDLE)
    return saddle + gda_matrix_power(gamma, k) @ (point - saddle)


def gda_distance_to_saddle(gamma: float, z0, k: int) -> float:
    """||z_k - z*|| = (1 + gamma^2)^(k/2) ||z_0 - z*|| for simultaneous GDA."""
    gamma, k = _check_gamma(gamma), _check_count("k", k)
    point = _check_point(z0)
    return (1.0 + gamma * gamma) ** (k / 2) * float(np.linalg.norm(point - np.array(SADDLE)))


def spectral_radius(method: str, gamma: float) -> float:
    """Closed-form spectral radius of the iteration matrix (derived in the chapter).

    * simultaneous:  sqrt(1 + gamma^2);
    * alternating:   1 for gamma <= 2, else (gamma^2 - 2 + gamma sqrt(gamma^2 - 4)) / 2;
    * extragradient: sqrt(1 - gamma^2 + gamma^4);
    * optimistic:    sqrt((1 + sqrt(1 - 4 gamma^2)) / 2) for gamma <= 1/2,
                     else sqrt(1/4 + (gamma + sqrt(gamma^2 - 1/4))^2).
    """
    method, g = _check_method(method), _check_gamma(gamma)
    if method == "simultaneous":
        return math.hypot(1.0, g)
    if method == "alternating":
        return 1.0 if g <= 2.0 else (g * g - 2.0 + g * math.sqrt(g * g - 4.0)) / 2.0
    if method == "extragradient":
        return math.sqrt(1.0 - g * g + g**4)
    if g <= 0.5:  # optimistic, real square root: eigenvalues (1 +- sqrt(1 - 4g^2))/2 - i g
        return math.sqrt((1.0 + math.sqrt(1.0 - 4.0 * g * g)) / 2.0)
    return math.sqrt(0.25 + (g + math.sqrt(g * g - 0.25)) ** 2)


def stability_limit(method: str, upper: float = 3.0, tol: float = 1e-9) -> float:
    """The first step size above which ``method`` diverges: bisection on (0, ``upper``] for the
    boundary of {gamma : rho(M_gamma) <= 1 + tol}, with numpy's eigenvalues of
    :func:`iteration_matrix` (``tol`` absorbs the rounding of eigenvalues on the unit circle).
    """
    method = _check_method(method)
    if method == "simultaneous":
        raise ValueError("method: simultaneous GDA diverges for every gamma > 0, it has no limit")
    require(is_number(upper, strict=True), "upper", upper, "a positive finite number")

    def stable(gamma):
        return np.abs(np.linalg.eigvals(iteration_matrix(method, gamma))).max() <= 1.0 + tol

    low, high = 0.0, upper
    if stable(high):
        raise ValueError(f"upper: {method} is still stable at gamma = {upper}; pass a larger one")
    while high - low > 1e-14 * high:
        middle = (low + high) / 2
        low, high = (middle, high) if stable(middle) else (low, middle)
    return (low + high) / 2


def regime(method: str, gamma: float) -> str:
    """'converges', 'cycles' (bounded, not convergent) or 'diverges', for a generic start.

    Decided by :data:`STEP_SIZE_LIMITS`; a gamma within a relative 1e-12 of a limit counts as
    the limit itself.
    """
    method, gamma = _check_method(method), _check_gamma(gamma)
    limit = STEP_SIZE_LIMITS[method]
    if method == "simultaneous":
        return "diverges"
    if math.isclose(gamma, limit, rel_tol=1e-12):
        return _AT_LIMIT[method]
    return "diverges" if gamma > limit else _BELOW_LIMIT[method]


def estimate_growth_rate(method: str, gamma: float, steps: int = 2000) -> float:
    """Per-step growth factor of the distance to z*, measured by running the method: power
    iteration on the update (state rescaled to unit norm each step), geometric mean of the growth
    over the second half. It tends to the spectral radius as ``steps`` grows.
    """
    method, gamma = _check_method(method), _check_gamma(gamma)
    steps = _check_count("steps", steps)
    if steps < 2:
        raise ValueError(f"steps must be at least 2, got {steps}")

    def state_norm(current, previous):
        # optimistic GDA's state is the pair (w_k, w_{k-1}); the others' is w_k alone
        if method == "optimistic":
            return math.hypot(np.linalg.norm(current), np.linalg.norm(previous))
        return float(np.linalg.norm(current))

    saddle = np.array(SADDLE)
    w = w_prev = np.array([0.6, -0.8])  # a generic unit start; optimistic: w_{-1} = w_0
    logs = []
    for _ in range(steps):
        w_new = np.asarray(_step(method, gamma, tuple(saddle + w), tuple(saddle + w_prev)))
        w_new = w_new - saddle
        new = state_norm(w_new, w)
        logs.append(math.log(new / state_norm(w, w_prev)))
        w, w_prev = w_new / new, w / new  # rescale the state to unit norm
    return math.exp(float(np.mean(logs[steps // 2 :])))
