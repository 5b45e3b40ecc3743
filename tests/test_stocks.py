"""feeds.stocks: the simulated trades feed."""

from __future__ import annotations

import asyncio
import inspect
import math

import pytest

from feeds import OptionError
from feeds.stocks import StocksFeed


def prices(feed: StocksFeed, ticks: int) -> list[dict[str, float]]:
    return [dict(feed.step()) for _ in range(ticks)]


def test_sample_is_the_next_step_on_the_event_loop() -> None:
    assert inspect.iscoroutinefunction(StocksFeed.sample)  # no hand-over to a thread for microseconds of arithmetic
    assert asyncio.run(StocksFeed(seed=7).sample()) == StocksFeed(seed=7).step()


def test_a_fixed_seed_reproduces_the_same_prices() -> None:
    assert prices(StocksFeed(seed=42), 50) == prices(StocksFeed(seed=42), 50)


def test_different_seeds_give_different_prices() -> None:
    assert prices(StocksFeed(seed=1), 5) != prices(StocksFeed(seed=2), 5)


def test_fields_are_a_price_and_a_volume_per_symbol_with_units() -> None:
    feed = StocksFeed.from_text_options({"symbols": "AAPL,BRK.B"})
    assert [(field.name, field.unit) for field in feed.fields] == [
        ("AAPL.price", "$"),
        ("AAPL.volume", "shares"),
        ("BRK.B.price", "$"),
        ("BRK.B.volume", "shares"),
    ]
    assert set(feed.step()) == {field.name for field in feed.fields}


def test_prices_stay_positive_and_move_volumes_are_round_lots() -> None:
    feed = StocksFeed(seed=3, symbols=("X",), volatility=5.0)
    samples = prices(feed, 500)
    assert all(sample["X.price"] > 0 and math.isfinite(sample["X.price"]) for sample in samples)
    assert len({sample["X.price"] for sample in samples}) > 400
    assert all(sample["X.volume"] % 100 == 0 and 100 <= sample["X.volume"] <= 5000 for sample in samples)


def test_zero_volatility_without_drift_keeps_prices_flat() -> None:
    feed = StocksFeed(seed=3, volatility=0.0)
    first, *rest = prices(feed, 10)
    assert all(sample[name] == first[name] for sample in rest for name in first if name.endswith(".price"))


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "at least one symbol"),
        ("aapl", "invalid symbol 'aapl'"),
        ("AAPL,AAPL", "distinct"),
        ("A$B", "invalid symbol"),
        (",".join(f"S{i}" for i in range(51)), "at most 50"),
    ],
)
def test_bad_symbols_are_refused_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(OptionError, match=rf"stocks\.symbols: .*{reason}"):
        StocksFeed.from_text_options({"symbols": text})


@pytest.mark.parametrize(("key", "text"), [("volatility", "-1"), ("seed", "x"), ("drift", "up")])
def test_bad_numbers_are_refused(key: str, text: str) -> None:
    with pytest.raises(OptionError, match=rf"^bad value '{text}' for option stocks\.{key}"):
        StocksFeed.from_text_options({key: text})
