"""Stateless seeded noise: the same keys always give the same value (deterministic AND alive).

Values are pure functions of integer keys (seed, stream, index), so the demo can compute the value
of any day or 15-second bucket on demand without storing or replaying a random sequence.
"""

from __future__ import annotations

import math

try:
    # What statistics.NormalDist.inv_cdf runs, without statistics' imports of decimal and
    # fractions (a tenth of `status --json`'s start-up beyond a bare CLI).
    from _statistics import _normal_dist_inv_cdf
except ImportError:  # an interpreter without the C accelerator
    from statistics import NormalDist

    def _normal_dist_inv_cdf(p: float, mu: float, sigma: float) -> float:
        return NormalDist(mu, sigma).inv_cdf(p)


_MASK = (1 << 64) - 1


def _mix(x: int) -> int:
    """splitmix64 finaliser."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def unit(*keys: int) -> float:
    """Uniform in [0, 1)."""
    h = 0
    for key in keys:
        h = _mix(h ^ (key & _MASK))
    return (h >> 11) / float(1 << 53)


def normal(*keys: int) -> float:
    """Standard normal, clipped to +-3 so no single draw makes an accidental second incident."""
    u = min(max(unit(*keys), 1e-9), 1 - 1e-9)
    return max(-3.0, min(3.0, _normal_dist_inv_cdf(u, 0.0, 1.0)))


def smooth(position: float, *keys: int) -> float:
    """Value noise in [0, 1): random at integer positions, cosine-interpolated in between."""
    base = math.floor(position)
    frac = position - base
    a = unit(*keys, base)
    b = unit(*keys, base + 1)
    t = (1 - math.cos(frac * math.pi)) / 2
    return a + (b - a) * t
