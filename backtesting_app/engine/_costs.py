"""FX trading costs and account settings, in the form `backtesting` takes them."""

from __future__ import annotations

from dataclasses import asdict, dataclass


class FxCommission:
    """`backtesting` commission callable: half the spread (in price) per unit on each side, plus a
    relative commission. Entry + exit together cost one full spread per unit. A class, not a closure,
    so it pickles for `Backtest.optimize`'s worker processes."""

    def __init__(self, half_spread: float, relative: float):
        self.half_spread = half_spread
        self.relative = relative

    def __call__(self, order_size: float, price: float) -> float:
        units = abs(order_size)
        return units * self.half_spread + units * price * self.relative


@dataclass(frozen=True)
class FxCosts:
    spread_pips: float = 1.0
    commission: float = 0.0  # relative, per side: 0.00002 = 0.2 bp of the traded value
    leverage: float = 1.0
    size: float = 0.95  # fraction of available margin per trade
    cash: float = 100_000.0
    pip: float = 0.0001

    def __post_init__(self):
        if not 0 <= self.spread_pips <= 10_000:
            raise ValueError(f"spread_pips must be between 0 and 10,000, not {self.spread_pips:g}")
        if not -0.1 <= self.commission < 0.1:
            raise ValueError(f"commission is a relative rate per side in [-0.1, 0.1), not {self.commission}")
        if not 1 <= self.leverage <= 1000:
            raise ValueError(f"leverage must be between 1 and 1000, not {self.leverage}")
        if not 0.0001 <= self.size < 1:  # below 0.01% of equity a trade is rounding, not a position
            raise ValueError(f"size is a fraction of equity from 0.0001 up to (not including) 1, not {self.size:g}")
        if not 1 <= self.cash <= 1e12:  # beyond a trillion, float cents no longer add up exactly
            raise ValueError(f"cash must be between 1 and 1e12, not {self.cash:g}")
        if self.pip <= 0:
            raise ValueError(f"pip must be positive, not {self.pip}")

    @property
    def half_spread(self) -> float:
        return self.spread_pips * self.pip / 2

    @property
    def margin(self) -> float:
        return 1 / self.leverage

    def commission_fn(self) -> FxCommission:
        return FxCommission(self.half_spread, self.commission)

    def as_dict(self) -> dict:
        return asdict(self)
