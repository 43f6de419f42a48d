"""What a result means for its hardware: roofline efficiency, energy and cost per token.

Definitions (the methodology page, "Roofline, energy and cost", says the same):

* **Bandwidth efficiency** of a batch = decode rate × bytes read per token ÷ measured memory
  bandwidth, with bytes read per token = the model's size (every weight of a dense model is
  read once per token) and the bandwidth the run's own ``--bench`` measured. Computed only
  where that bound holds and both numbers are the run's own: a dense model
  (``model_expert_count`` = 0) on a host without GPUs (where the weights sit is not recorded,
  so which bandwidth bounds a GPU host is unknown). Otherwise null, with the reason.
* **Tokens per joule** = 1 ÷ joules per output token (whole-device energy: CPU package and
  GPUs), i.e. tokens/s per watt.
* **Cost per million output tokens** = (hourly cost ÷ 3600 ÷ throughput + energy cost per
  token) × 10⁶, in the currency the contributor stated, where hourly cost is the hourly rate,
  or the hardware price ÷ (amortisation years × 8766 h); throughput is the batch's aggregate
  output tokens/s (wall clock, prefill and gaps included); energy cost per token = joules per
  token ÷ 3.6·10⁶ × electricity price per kWh, added only when an electricity price is stated.
  The archive never invents a price: without cost inputs the cost is null, with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bakeoff.stats import finite

HOURS_PER_YEAR = 8766.0  # 365.25 days
PLAUSIBLE_EFFICIENCY = 1.2  # beyond this a result exceeds its physical bound (with margin)


def bandwidth_efficiency(
    tokens_per_sec: float | None, cell: Mapping[str, Any], hardware: Mapping[str, Any]
) -> tuple[float | None, str | None]:
    """(decode bandwidth ÷ measured bandwidth, None) or (None, why it cannot be said)."""
    bench = hardware.get("benchmarks")
    bandwidth = bench.get("memory_bandwidth_gbs") if bench else None
    size = cell.get("model_size_bytes")
    experts = cell.get("model_expert_count")
    if bench is None:
        return None, "no hardware microbenchmark in this run (bakeoff run --bench)"
    if not bandwidth:
        return None, "the run's memory bandwidth was not measured"
    if hardware.get("gpus"):
        return None, "a GPU host: where the weights sat is not recorded"
    if size is None:
        return None, "model size unknown"
    if experts is None:
        return None, "not known whether the model is dense"
    if experts > 0:
        return None, "a mixture-of-experts model reads only its active experts"
    if tokens_per_sec is None:
        return None, "no decode rate"
    return finite(tokens_per_sec * size / (bandwidth * 1e9)), None


def tokens_per_joule(joules_per_token: float | None) -> float | None:
    """Output tokens per joule (= tokens/s per watt)."""
    if not joules_per_token or joules_per_token <= 0:
        return None
    return finite(1.0 / joules_per_token)


def cost_per_million_tokens(
    throughput: float | None,
    joules_per_token: float | None,
    prices: Mapping[str, Any] | None,
) -> tuple[float | None, str | None]:
    """(cost per 10⁶ output tokens, None) or (None, why not), in ``prices["currency"]``."""
    if prices is None:
        return None, "no prices stated (cost inputs of the run)"
    hourly = prices.get("hourly_rate")
    if hourly is None and prices.get("hardware_price") and prices.get("amortization_years"):
        hourly = prices["hardware_price"] / (prices["amortization_years"] * HOURS_PER_YEAR)
    if hourly is None:
        return None, "no hourly rate or hardware price stated"
    if not throughput or throughput <= 0:
        return None, "no throughput measured"
    per_token = hourly / 3600.0 / throughput
    electricity = prices.get("electricity_price_per_kwh")
    if electricity is not None:
        if joules_per_token is None:
            return None, "an electricity price but no energy per token measured"
        per_token += joules_per_token / 3.6e6 * electricity
    return finite(per_token * 1e6), None
