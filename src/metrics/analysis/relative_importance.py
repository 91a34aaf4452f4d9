"""Relative importance of groups of regressors: the Shapley value decomposition of R² (LMG, after
Lindeman, Merenda & Gold 1980; Grömping 2007), computed from covariance matrices, with a seeded
percentile bootstrap. Pure numpy; :mod:`metrics.analysis.drivers` feeds it the survey rows.

Why LMG and not Johnson's relative weights: LMG is the exact Shapley value of the R² "game", so it
is the one method whose shares provably add up to the model's R² and treat correlated drivers
symmetrically; with groups (a categorical driver = its block of dummy columns) it stays exact,
whereas relative weights orthogonalise single columns and have no clean group version. Its cost,
2^G subset regressions, is small here (G ≈ 10 groups: 1,024 small solves per bootstrap replicate).

What is decomposed is the *adjusted* R² of each subset (``1 − (1 − R²)(n − 1)/(n − k − 1)``): a
driver that explains nothing then gets a share centred on zero (its chance fit, about k/n, is taken
off), so its bootstrap interval can include zero, and the shares add up to the full model's
adjusted R². With the large n of survey data the two versions differ by a few ten-thousandths.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import factorial

import numpy as np

RIDGE = 1e-10  # added to the diagonal of each correlation block: a constant or duplicate column cannot break a solve


@dataclass(frozen=True)
class Importance:
    """Shapley shares of adjusted R² per group with their percentile intervals, the full model's fit
    and coefficients (units of y per unit of each column) with theirs.

    ``share``…: (G,); ``beta``…: (p,); ``r2``/``r2_adj``: the full model's R² and adjusted R², with
    the interval of R²; ``n``: rows; ``n_boot``: bootstrap resamples; ``level``: the intervals' level."""

    share: np.ndarray
    share_lower: np.ndarray
    share_upper: np.ndarray
    r2: float
    r2_adj: float
    r2_lower: float
    r2_upper: float
    beta: np.ndarray
    beta_lower: np.ndarray
    beta_upper: np.ndarray
    n: int
    n_boot: int
    level: float = 0.95


def _covariances(z: np.ndarray, n_boot: int, rng: np.random.Generator, chunk: int = 50) -> np.ndarray:
    """Covariance matrices (1 + n_boot, q, q) of the columns of ``z`` (n, q): first of the rows as
    they are, then of ``n_boot`` bootstrap resamples (rows drawn with replacement, as counts per row).

    Every resample's moments come from one matrix product: the rows' products of column pairs
    (n × q(q+1)/2) times the resamples' counts (n × ``chunk``), so the cost is a few large products
    rather than one pass over the rows per resample."""
    n, q = z.shape
    iu = np.triu_indices(q)
    pairs = np.empty((n, 1 + q + len(iu[0])))
    pairs[:, 0], pairs[:, 1:1 + q] = 1.0, z
    at = 1 + q
    for a in range(q):
        np.multiply(z[:, a:a + 1], z[:, a:], out=pairs[:, at:at + q - a])
        at += q - a
    sums = np.empty((1 + n_boot, pairs.shape[1]))  # (1 + n_boot, 1 + q + q(q+1)/2)
    sums[0] = pairs.sum(axis=0)
    counts = np.empty((n, chunk))
    for first in range(1, 1 + n_boot, chunk):
        k = min(chunk, 1 + n_boot - first)
        for j in range(k):
            counts[:, j] = np.bincount(rng.integers(0, n, n), minlength=n)
        sums[first:first + k] = (pairs.T @ counts[:, :k]).T
    total = sums[:, :1]
    mean = sums[:, 1:1 + q] / total
    raw = np.zeros((len(sums), q, q))
    raw[:, iu[0], iu[1]] = sums[:, 1 + q:] / total
    raw = raw + np.triu(raw, 1).transpose(0, 2, 1)
    return raw - mean[:, :, None] * mean[:, None, :]


def subset_r2(cov: np.ndarray, groups: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """(R², number of columns) of every subset of ``groups``: ``cov`` is (B, p+1, p+1) with y in
    row/column 0 and the regressors after it (``groups`` index regressors 0..p−1). Subset ``s`` is the
    bit mask over groups; R²(∅) = 0. Returns arrays (B, 2^G) and (2^G,)."""
    b, g = cov.shape[0], len(groups)
    sd = np.sqrt(np.clip(np.einsum("bii->bi", cov), 1e-300, None))
    corr = cov / sd[:, :, None] / sd[:, None, :]
    r2 = np.zeros((b, 1 << g))
    k = np.zeros(1 << g, dtype=np.int64)
    for mask in range(1, 1 << g):
        cols = [1 + c for j in range(g) if mask >> j & 1 for c in groups[j]]
        k[mask] = len(cols)
        rxx = corr[:, cols][:, :, cols] + RIDGE * np.eye(len(cols))
        rxy = corr[:, cols, 0]
        coef = np.linalg.solve(rxx, rxy[:, :, None])[:, :, 0]
        r2[:, mask] = np.clip((rxy * coef).sum(axis=1), 0.0, 1.0)
    return r2, k


def adjusted(r2: np.ndarray, k: np.ndarray, n: int) -> np.ndarray:
    """Adjusted R² of subsets with ``k`` columns fitted on ``n`` rows (0 for the empty subset)."""
    out = 1 - (1 - r2) * (n - 1) / np.maximum(n - k - 1, 1)
    out[..., k == 0] = 0.0
    return out


def shapley(values: np.ndarray, g: int) -> np.ndarray:
    """Shapley values (…, G) of the set function ``values`` (…, 2^G) indexed by bit mask."""
    weights = np.array([factorial(s) * factorial(g - s - 1) / factorial(g) for s in range(g)])
    sizes = np.array([bin(m).count("1") for m in range(1 << g)])
    out = np.zeros(values.shape[:-1] + (g,))
    masks = np.arange(1 << g)
    for j in range(g):
        without = masks[(masks >> j & 1) == 0]
        out[..., j] = ((values[..., without | (1 << j)] - values[..., without]) * weights[sizes[without]]).sum(axis=-1)
    return out


def _coefficients(cov: np.ndarray) -> np.ndarray:
    """Full-model coefficients (B, p) from covariance matrices (B, p+1, p+1), y first."""
    sxx = cov[:, 1:, 1:]
    scale = np.sqrt(np.clip(np.einsum("bii->bi", sxx), 1e-300, None))
    rxx = sxx / scale[:, :, None] / scale[:, None, :] + RIDGE * np.eye(sxx.shape[1])
    rxy = cov[:, 1:, 0] / scale
    return np.linalg.solve(rxx, rxy[:, :, None])[:, :, 0] / scale


def _stats(cov: np.ndarray, groups: list[list[int]], n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(shares (B, G), R² (B,), adjusted R² (B,), coefficients (B, p)) of covariance matrices (B, p+1, p+1)."""
    r2, k = subset_r2(cov, groups)
    adj = adjusted(r2, k, n)
    full = (1 << len(groups)) - 1
    return shapley(adj, len(groups)), r2[:, full], adj[:, full], _coefficients(cov)


def lmg(y: np.ndarray, x: np.ndarray, groups: list[list[int]], n_boot: int = 200,
        seed: int = 20261206, level: float = 0.95) -> Importance:
    """LMG shares of adjusted R² for the column ``groups`` of ``x`` (n, p) explaining ``y`` (n,),
    with percentile-bootstrap intervals at ``level`` from ``n_boot`` resamples of the rows (drawn
    with replacement; ``seed`` makes them reproducible)."""
    z = np.column_stack([np.asarray(y, float), np.asarray(x, float)])
    n, g = len(z), len(groups)
    if n < 3 or g == 0:
        raise ValueError("relative importance needs at least 3 rows and one driver")
    z = z - z.mean(axis=0)  # centred: the moments lose no precision
    share, r2, adj, beta = _stats(_covariances(z, n_boot, np.random.default_rng(seed)), groups, n)
    alpha = (1 - level) / 2 * 100
    (s_lo, s_hi), (r_lo, r_hi), (b_lo, b_hi) = (np.percentile(v[1:], [alpha, 100 - alpha], axis=0)
                                                for v in (share, r2, beta))
    return Importance(share=share[0], share_lower=s_lo, share_upper=s_hi, r2=float(r2[0]),
                      r2_adj=float(adj[0]), r2_lower=float(r_lo), r2_upper=float(r_hi), beta=beta[0],
                      beta_lower=b_lo, beta_upper=b_hi, n=n, n_boot=n_boot, level=level)
