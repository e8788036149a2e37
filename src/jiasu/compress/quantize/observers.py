"""Calibration observers: watch a tensor over many batches, then say which range to quantize.

Protocol (every observer): ``observe(x)`` once per batch (numpy or torch), ``compute() -> QParams``
at the end. ``axis=None`` observes per tensor, ``axis=k`` per channel along dimension k (weights:
axis 0 of a Conv, say). ``symmetric`` and the quantized type (``qtype``) go to
:func:`qparams_from_range`, so every method supports every combination.

Methods (``OBSERVERS``, the registry the CLI's ``--method`` reads):

- ``minmax``: the observed min and max. Exact, but one outlier stretches the scale for everyone.
- ``percentile``: the ``percentile``-th and (100 - it)-th percentiles of the sampled values.
- ``entropy``: TensorRT's KL-divergence threshold: the clipping point t whose quantized histogram
  (its share of the integer levels over [0, t]) loses least information relative to the full
  2048-bin histogram; asymmetric ranges choose a threshold on each side of zero separately.
- ``mse``: the clipping range, scanned from 30% to 100% of the observed one, whose quantize/dequantize
  round trip has the least mean squared error on the sampled values.

The histogram methods keep a uniform sample of at most ``samples_per_batch`` values per batch (and
per channel), plus the exact min and max, so memory stays bounded on any data set.
"""

from __future__ import annotations

from typing import ClassVar, Optional

import numpy as np

from ...errors import JiasuError
from .qparams import QParams, QType, qparams_from_range
from .qparams import qtype as _qtype


def _numpy(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float32)


class Observer:
    """Base: tracks exact per-tensor / per-channel min and max; subclasses choose the range from them or a sample."""

    name: ClassVar[str] = ""

    def __init__(self, *, axis: Optional[int] = None, symmetric: bool = False, qtype: str | QType = "uint8", seed: int = 0):
        self.axis = axis
        self.symmetric = symmetric
        self.qtype = _qtype(qtype) if isinstance(qtype, str) else qtype
        self.min: Optional[np.ndarray] = None
        self.max: Optional[np.ndarray] = None
        self._rng = np.random.default_rng(seed)

    def _channels(self, x: np.ndarray) -> np.ndarray:
        """x as (channels, values): one row per tensor, or one per channel along ``axis``."""
        if self.axis is None:
            return x.reshape(1, -1)
        return np.moveaxis(x, self.axis, 0).reshape(x.shape[self.axis], -1)

    def observe(self, x) -> None:
        rows = self._channels(_numpy(x))
        if rows.shape[1] == 0:
            return
        lo, hi = rows.min(axis=1), rows.max(axis=1)
        self.min = lo if self.min is None else np.minimum(self.min, lo)
        self.max = hi if self.max is None else np.maximum(self.max, hi)
        self._record(rows)

    def _record(self, rows: np.ndarray) -> None:
        pass

    def range(self) -> tuple[np.ndarray, np.ndarray]:
        return self.min, self.max

    def compute(self) -> QParams:
        if self.min is None:
            raise JiasuError(f"{self.name} observer has seen no data; call observe() with at least one non-empty batch before compute()")
        lo, hi = self.range()
        if self.axis is None:
            lo, hi = lo.reshape(()), hi.reshape(())
        return qparams_from_range(lo, hi, self.qtype, symmetric=self.symmetric, axis=self.axis)


class MinMaxObserver(Observer):
    name = "minmax"


class _Sampling(Observer):
    """Keeps a bounded uniform sample of values per channel for the histogram methods."""

    def __init__(self, *, samples_per_batch: int = 1 << 16, **kw):
        super().__init__(**kw)
        self.samples_per_batch = samples_per_batch
        self._samples: list[np.ndarray] = []

    def _record(self, rows: np.ndarray) -> None:
        if rows.shape[1] > self.samples_per_batch:
            idx = self._rng.choice(rows.shape[1], self.samples_per_batch, replace=False)
            rows = rows[:, idx]
        self._samples.append(rows)

    def range(self):
        data = np.concatenate(self._samples, axis=1)
        pairs = [self._range_1d(row, lo, hi) for row, lo, hi in zip(data, self.min, self.max)]
        return np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])

    def _range_1d(self, x: np.ndarray, lo: float, hi: float) -> tuple[float, float]:
        raise NotImplementedError


class PercentileObserver(_Sampling):
    name = "percentile"

    def __init__(self, *, percentile: float = 99.99, **kw):
        super().__init__(**kw)
        if not 50.0 < percentile <= 100.0:
            raise JiasuError(f"percentile must be in (50, 100], got {percentile}")
        self.percentile = percentile

    def _range_1d(self, x, lo, hi):
        if self.symmetric:
            t = float(np.percentile(np.abs(x), self.percentile))
            return -t, t
        return float(np.percentile(x, 100.0 - self.percentile)), float(np.percentile(x, self.percentile))


class EntropyObserver(_Sampling):
    name = "entropy"

    def __init__(self, *, bins: int = 2048, quant_levels: Optional[int] = None, **kw):
        super().__init__(**kw)
        self.bins = bins
        self.quant_levels = quant_levels

    def _range_1d(self, x, lo, hi):
        if max(-lo, hi) == 0.0:
            return 0.0, 0.0
        total = self.qtype.qmax - self.qtype.qmin + 1
        if self.symmetric:
            t = kl_threshold(np.abs(x), float(max(-lo, hi)), self.bins, self.quant_levels or total // 2)
            return max(lo, -t), min(hi, t)
        # Asymmetric: each side of zero gets its own threshold and its share of the levels. (One threshold
        # on |x| would clip a dense negative floor, e.g. the background of normalised images, to -t.)
        lo_t, hi_t = lo, hi
        for sign, edge in ((1.0, hi), (-1.0, -lo)):
            if edge <= 0:
                continue
            side = sign * x
            levels = self.quant_levels or max(16, int(round(total * edge / (hi - lo))))
            t = kl_threshold(side[side > 0], float(edge), self.bins, min(levels, self.bins))
            if sign > 0:
                hi_t = min(hi, t)
            else:
                lo_t = max(lo, -t)
        return lo_t, hi_t


def kl_threshold(values: np.ndarray, amax: float, bins: int, levels: int) -> float:
    """The threshold t in (0, amax] minimising KL(P || Q): P the histogram clipped at t (outliers folded
    into its last bin), Q that histogram merged into ``levels`` bins and expanded back (TensorRT's method)."""
    hist, edges = np.histogram(values, bins=bins, range=(0.0, amax))
    hist = hist.astype(np.float64)
    best, best_i = np.inf, bins
    candidates = list(range(max(levels, 1), bins, max(1, (bins - levels) // 128))) + [bins]  # the full range is always one
    for i in candidates:
        p = hist[:i].copy()
        p[-1] += hist[i:].sum()
        nonzero = p > 0
        # merge i bins into `levels` groups, spread each group's mass evenly over its non-empty bins
        group = (np.arange(i) * levels) // i
        mass = np.bincount(group, weights=hist[:i], minlength=levels)
        count = np.bincount(group, weights=nonzero.astype(np.float64), minlength=levels)
        q = np.where(nonzero, mass[group] / np.maximum(count[group], 1), 0.0)
        ps, qs = p.sum(), q.sum()
        if ps == 0 or qs == 0:
            continue
        p, q = p / ps, q / qs
        mask = p > 0
        kl = float(np.sum(p[mask] * np.log(p[mask] / np.maximum(q[mask], 1e-12))))
        if kl < best:
            best, best_i = kl, i
    return float(edges[best_i])


class MSEObserver(_Sampling):
    name = "mse"

    def __init__(self, *, steps: int = 71, **kw):
        super().__init__(**kw)
        self.steps = steps

    def _range_1d(self, x, lo, hi):
        best, best_r = np.inf, (lo, hi)
        for a in np.linspace(0.3, 1.0, self.steps):
            qp = qparams_from_range(lo * a, hi * a, self.qtype, symmetric=self.symmetric)
            err = float(np.mean((qp.dequantize(qp.quantize(x)) - x) ** 2))
            if err < best:
                best, best_r = err, (float(lo * a), float(hi * a))
        return best_r


#: Calibration method name -> observer class (one place; ``--method`` choices come from here).
OBSERVERS: dict[str, type[Observer]] = {c.name: c for c in (MinMaxObserver, PercentileObserver, EntropyObserver, MSEObserver)}


def make_observer(method: str, **kw) -> Observer:
    try:
        cls = OBSERVERS[method]
    except KeyError:
        raise JiasuError(f"unknown calibration method {method!r}; choose one of: {', '.join(OBSERVERS)}") from None
    return cls(**kw)
