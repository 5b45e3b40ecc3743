"""The built-in ``stocks`` feed: simulated trades for a list of symbols.

Prices follow a geometric Brownian motion and each tick trades a random number of round lots. Every run starts each
symbol at the same price (`start_price`), whatever the seed, so a restarted server carries on near where the last run
began rather than jumping. The random number generator is seedable, and the simulation advances by ``interval`` per
tick whatever the wall clock says, so a fixed seed reproduces exactly the same prices. In a cluster, a process that
takes the feed over continues from the last published prices (`StocksFeed.take_over`) rather than from its start
prices.
"""

from __future__ import annotations

import math
import random
import re
import zlib
from collections.abc import Mapping

from .feed import Feed, Field, Option, OptionError, Sample

__all__ = ["START_PRICES", "StocksFeed", "start_price"]

SYMBOL_PATTERN = re.compile(r"^[A-Z][A-Z0-9.]{0,9}$")
MAX_SYMBOLS = 50
SECONDS_PER_HOUR = 3600.0
LOT_SIZE = 100
MAX_LOTS_PER_TICK = 50
# Start prices, in dollars, of the default symbols (round figures near their real ones); any other symbol starts at a
# price of its own in START_PRICE_RANGE, the same on every run.
START_PRICES = {"AAPL": 190.0, "MSFT": 420.0, "NVDA": 120.0, "AMZN": 180.0, "GOOG": 170.0}
START_PRICE_RANGE = (20.0, 500.0)


def parse_symbols(text: str) -> tuple[str, ...]:
    """Comma-separated ticker symbols: 1 to 50 of them, distinct, uppercase letters, digits and dots."""
    symbols = tuple(part.strip() for part in text.split(",") if part.strip())
    if not symbols:
        raise ValueError("expected at least one symbol, e.g. AAPL,MSFT")
    if len(symbols) > MAX_SYMBOLS:
        raise ValueError(f"at most {MAX_SYMBOLS} symbols")
    bad = [symbol for symbol in symbols if not SYMBOL_PATTERN.match(symbol)]
    if bad:
        raise ValueError(f"invalid symbol {bad[0]!r}: expected uppercase letters, digits and dots, e.g. BRK.B")
    if len(set(symbols)) != len(symbols):
        raise ValueError("symbols must be distinct")
    return symbols


def start_price(symbol: str) -> float:
    """Where ``symbol``'s price starts on every run: from START_PRICES, else a price in START_PRICE_RANGE that
    follows from the symbol's name alone (a checksum of it), so that it is the same in every process and run."""
    if symbol in START_PRICES:
        return START_PRICES[symbol]
    low, high = START_PRICE_RANGE
    fraction = zlib.crc32(symbol.encode()) / 0xFFFFFFFF
    return round(low + fraction * (high - low), 2)


def non_negative_float(text: str) -> float:
    """A finite number, 0 or more."""
    value = float(text)
    if not math.isfinite(value) or value < 0:
        raise ValueError("expected a number >= 0")
    return value


def parse_seed(text: str) -> int | None:
    """An integer seed, or ``none`` for a different simulation on every run."""
    return None if text.strip().lower() in ("", "none") else int(text)


class StocksFeed(Feed):
    """Simulated stock trades: a price and a traded volume per symbol on every tick."""

    name = "stocks"
    description = "Simulated trades: geometric Brownian motion prices and round-lot volumes."
    interval = 0.25
    simulated = True

    symbols = Option(("AAPL", "MSFT", "NVDA", "AMZN", "GOOG"), "comma-separated ticker symbols", parse=parse_symbols)
    seed = Option(None, "random seed: the same seed gives the same prices; 'none' differs every run", parse=parse_seed)
    drift = Option(0.0, "expected log return per hour")
    volatility = Option(0.2, "standard deviation of the log return over one hour", parse=non_negative_float)

    def __init__(self, **options: object) -> None:
        super().__init__(**options)
        try:
            self.symbols = parse_symbols(",".join(self.symbols))
        except ValueError as exc:
            raise OptionError(f"bad value {self.symbols!r} for option stocks.symbols: {exc}") from None
        self.fields = tuple(
            field
            for symbol in self.symbols
            for field in (Field(f"{symbol}.price", "$"), Field(f"{symbol}.volume", "shares"))
        )
        self._rng = random.Random(self.seed)
        self._prices = {symbol: start_price(symbol) for symbol in self.symbols}

    def take_over(self, last: Mapping[str, float]) -> None:
        """Continue from the last published prices (``SYMBOL.price``). A symbol missing from ``last`` (the symbols
        option changed), or handed a value that is not a finite positive number, keeps its start price."""
        for symbol in self.symbols:
            price = last.get(f"{symbol}.price")
            if isinstance(price, (int, float)) and not isinstance(price, bool) and math.isfinite(price) and price > 0:
                self._prices[symbol] = float(price)

    async def sample(self) -> Sample:
        # Arithmetic only, tens of microseconds: cheaper on the event loop than a hand-over to the feed's thread.
        return self.step()

    def step(self) -> Sample:
        """The next tick's prices and volumes."""
        step = self.interval / SECONDS_PER_HOUR
        mean = (self.drift - self.volatility**2 / 2) * step
        deviation = self.volatility * math.sqrt(step)
        values: dict[str, float] = {}
        for symbol in self.symbols:
            price = self._prices[symbol] * math.exp(self._rng.gauss(mean, deviation))
            self._prices[symbol] = price
            values[f"{symbol}.price"] = round(price, 4)
            values[f"{symbol}.volume"] = self._rng.randint(1, MAX_LOTS_PER_TICK) * LOT_SIZE
        return values
