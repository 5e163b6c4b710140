"""Adam in NumPy, written to be read beside thesis 4.1.2.3 and ``keras.optimizers.Adam``.

The thesis writes the update as (``g_t`` the gradient at step ``t``)::

    p_t = beta_1 p_{t-1} + (1 - beta_1) g_t          # first moment (momentum)
    q_t = beta_2 q_{t-1} + (1 - beta_2) g_t**2       # second raw moment (RMSProp)
    p_hat_t = p_t / (1 - beta_1**t)                  # bias corrections
    q_hat_t = q_t / (1 - beta_2**t)
    w_{t+1} = w_t - eta p_hat_t / sqrt(q_hat_t + eps)

Implementations differ only in where the small constant ``eps`` goes, and
:class:`NumpyAdam` offers all three places (``eps_placement``):

``"keras"`` (default)
    What ``keras.optimizers.Adam`` computes: the step size is bias-corrected,
    ``alpha_t = eta sqrt(1 - beta_2**t) / (1 - beta_1**t)``, and
    ``w -= alpha_t p_t / (sqrt(q_t) + eps)`` (the "epsilon hat" form at the end
    of section 2 of Kingma & Ba, 2015). Keras also keeps ``eta`` in a float32
    variable and turns ``beta_1``, ``beta_2`` into float32 numbers before raising
    them to the power ``t``; this mode rounds them the same way, so that it
    follows Keras's trajectory to floating-point precision (the chapter shows it).
``"paper"``
    Algorithm 1 of Kingma & Ba: ``w -= eta p_hat_t / (sqrt(q_hat_t) + eps)``.
``"thesis"``
    The thesis's equation, ``eps`` inside the square root.

With the default ``eps = 1e-7`` the three differ only when ``q_hat_t`` is of the
order of ``eps**2`` (``"keras"``, ``"paper"``) or ``eps`` (``"thesis"``), i.e.
for parameters whose gradients are almost always zero.

Example
-------
>>> import numpy as np
>>> opt = NumpyAdam(learning_rate=0.1)
>>> w = np.array([1.0, -2.0])
>>> for _ in range(3):                 # minimise w**2: the gradient is 2 w
...     w = opt.step(w, 2 * w)
>>> np.round(w, 2).tolist()            # every step moves each weight by about eta
[0.7, -1.7]
"""
from __future__ import annotations

from typing import Literal

import numpy as np

EpsPlacement = Literal["keras", "paper", "thesis"]

__all__ = ["NumpyAdam", "NumpySGD"]


class NumpyAdam:
    """Adam (thesis 4.1.2.3) for one NumPy parameter array, or a list of them.

    Parameters
    ----------
    learning_rate
        ``eta``; the thesis keeps it at 0.001 (also Keras's default).
    beta_1, beta_2
        Decay rates of the first and second moment estimates.
    epsilon
        The small constant (Keras's default ``1e-7``).
    eps_placement
        ``"keras"``, ``"paper"`` or ``"thesis"`` (see the module docstring).

    Attributes
    ----------
    t
        Number of steps taken so far.
    m, v
        The moment estimates ``p_t`` and ``q_t`` (one array per parameter).
    """

    def __init__(self, learning_rate: float = 0.001, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-7,
                 eps_placement: EpsPlacement = "keras") -> None:
        if eps_placement not in ("keras", "paper", "thesis"):
            raise ValueError(
                f"eps_placement must be 'keras', 'paper' or 'thesis', got {eps_placement!r}")
        if not 0.0 <= beta_1 < 1.0 or not 0.0 <= beta_2 < 1.0:
            raise ValueError(f"beta_1 and beta_2 must lie in [0, 1), got {beta_1}, {beta_2}")
        if learning_rate <= 0:
            raise ValueError(f"learning_rate must be positive, got {learning_rate}")
        self.learning_rate = float(learning_rate)
        self.beta_1 = float(beta_1)
        self.beta_2 = float(beta_2)
        self.epsilon = float(epsilon)
        self.eps_placement = eps_placement
        self.t = 0
        self.m: list[np.ndarray] | None = None
        self.v: list[np.ndarray] | None = None

    def step(self, params: np.ndarray | list[np.ndarray],
             grads: np.ndarray | list[np.ndarray]) -> np.ndarray | list[np.ndarray]:
        """One update; returns the new parameters (the inputs are not modified).

        ``params`` and ``grads`` are one array each, or two lists of arrays of
        matching shapes (one per weight tensor of a model).
        """
        single = isinstance(params, np.ndarray)
        ps = [params] if single else list(params)
        gs = [grads] if single else list(grads)
        if len(ps) != len(gs):
            raise ValueError(f"got {len(ps)} parameter arrays but {len(gs)} gradients")
        for k, (p, g) in enumerate(zip(ps, gs)):
            if np.shape(p) != np.shape(g):
                raise ValueError(f"parameter {k} has shape {np.shape(p)} but its gradient "
                                 f"has shape {np.shape(g)}")
        if self.m is None:
            self.m = [np.zeros_like(p, dtype=np.result_type(p, np.float32)) for p in ps]
            self.v = [np.zeros_like(m) for m in self.m]
        elif len(self.m) != len(ps):
            raise ValueError("the number of parameter arrays changed between steps; "
                             "use one optimizer per model")

        self.t += 1
        b1, b2, eta, eps, t = self.beta_1, self.beta_2, self.learning_rate, self.epsilon, self.t
        new = []
        for k, (p, g) in enumerate(zip(ps, gs)):
            g = np.asarray(g, dtype=self.m[k].dtype)
            # the moment updates, written as Keras writes them: m += (g - m)(1 - beta)
            self.m[k] = self.m[k] + (g - self.m[k]) * (1 - b1)
            self.v[k] = self.v[k] + (g * g - self.v[k]) * (1 - b2)
            m, v = self.m[k], self.v[k]
            if self.eps_placement == "keras":
                # Keras's float32 learning rate and float32 betas in the bias correction
                eta32, b1_32, b2_32 = (float(np.float32(x)) for x in (eta, b1, b2))
                alpha = eta32 * np.sqrt(1 - b2_32 ** t) / (1 - b1_32 ** t)
                update = m * alpha / (np.sqrt(v) + eps)
            else:
                m_hat = m / (1 - b1 ** t)
                v_hat = v / (1 - b2 ** t)
                if self.eps_placement == "paper":
                    update = eta * m_hat / (np.sqrt(v_hat) + eps)
                else:  # thesis
                    update = eta * m_hat / np.sqrt(v_hat + eps)
            new.append(p - update)
        return new[0] if single else new


class NumpySGD:
    """Plain gradient descent, ``w -= eta g``: the baseline Adam is compared with.

    Example
    -------
    >>> import numpy as np
    >>> NumpySGD(learning_rate=0.25).step(np.array([2.0]), np.array([4.0])).tolist()
    [1.0]
    """

    def __init__(self, learning_rate: float = 0.01) -> None:
        if learning_rate <= 0:
            raise ValueError(f"learning_rate must be positive, got {learning_rate}")
        self.learning_rate = float(learning_rate)
        self.t = 0

    def step(self, params: np.ndarray | list[np.ndarray],
             grads: np.ndarray | list[np.ndarray]) -> np.ndarray | list[np.ndarray]:
        """One update; returns the new parameters."""
        self.t += 1
        if isinstance(params, np.ndarray):
            return params - self.learning_rate * np.asarray(grads)
        return [p - self.learning_rate * np.asarray(g) for p, g in zip(params, grads)]
