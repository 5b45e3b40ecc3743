"""feeds.stocks: the simulated trades feed."""

from __future__ import annotations

import asyncio
import inspect
import math

import pytest

from feeds import OptionError
from feeds.stocks import START_PRICE_RANGE, START_PRICES, StocksFeed, start_price


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


def test_a_feed_that_takes_over_continues_from_the_last_published_prices() -> None:
    """The next step moves each handed price by a normal step (under 6 standard deviations of its log), where a
    feed that starts over jumps to prices of its own."""
    last = prices(StocksFeed(seed=1), 100)[-1]
    fresh, taking_over = StocksFeed(seed=2), StocksFeed(seed=2)
    taking_over.take_over(last)
    deviation = taking_over.volatility * math.sqrt(taking_over.interval / 3600)

    def moves(feed: StocksFeed) -> list[float]:
        step = feed.step()
        return [abs(math.log(step[f"{symbol}.price"] / last[f"{symbol}.price"])) for symbol in feed.symbols]

    assert max(moves(taking_over)) < 6 * deviation
    assert max(moves(fresh)) > 6 * deviation


def test_taking_over_keeps_the_start_price_of_a_symbol_missing_or_badly_handed() -> None:
    """A symbol added since the last tick, or handed NaN, infinity, zero or a negative price, starts where it would
    have; the others continue (flat prices make both exact)."""
    symbols = ("AAPL", "MSFT", "NEW", "NAN", "INF", "ZERO", "NEG")
    started = StocksFeed(seed=4, symbols=symbols, volatility=0.0).step()
    feed = StocksFeed(seed=4, symbols=symbols, volatility=0.0)
    feed.take_over(
        {
            "AAPL.price": 123.45,
            "AAPL.volume": 300,
            "MSFT.price": 7,
            "OLD.price": 55.0,
            "NAN.price": math.nan,
            "INF.price": math.inf,
            "ZERO.price": 0.0,
            "NEG.price": -3.0,
        }
    )
    step = feed.step()
    assert (step["AAPL.price"], step["MSFT.price"]) == (123.45, 7.0)
    assert [step[f"{symbol}.price"] for symbol in symbols[2:]] == [started[f"{symbol}.price"] for symbol in symbols[2:]]
    assert "OLD.price" not in step


def test_taking_over_with_the_same_seed_changes_nothing_but_the_prices() -> None:
    """The hook sets prices only: the random draws (and so the volumes) go on as the seed says."""
    handed = {f"{symbol}.price": 100.0 for symbol in StocksFeed.symbols.default}
    feed = StocksFeed(seed=9)
    feed.take_over(handed)
    twin = StocksFeed(seed=9)
    step, twin_step = feed.step(), twin.step()
    assert all(step[name] == twin_step[name] for name in step if name.endswith(".volume"))


def test_every_run_starts_from_the_same_prices_whatever_the_seed() -> None:
    """A restarted server (a new run, with no seed or another one) starts where the last run started, not at new
    random prices: the default symbols at their documented prices, any other at a price of its own name."""
    symbols = (*START_PRICES, "BRK.B")
    flat = [StocksFeed(seed=seed, symbols=symbols, volatility=0.0).step() for seed in (None, None, 1, 2)]
    assert all(step == flat[0] | {name: step[name] for name in step if name.endswith(".volume")} for step in flat)
    assert {symbol: flat[0][f"{symbol}.price"] for symbol in START_PRICES} == START_PRICES
    assert START_PRICE_RANGE[0] <= flat[0]["BRK.B.price"] <= START_PRICE_RANGE[1]
    assert start_price("BRK.B") != start_price("BRK.A")
