"""Plain-text rendering of a run's summary for the terminal."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sim.api import Result


def _ms(x) -> str:
    return "-" if x is None else f"{x * 1000:,.1f}"


def format_summary(result: "Result") -> str:
    s = result.summary
    r = s["requests"]
    lines = [f"scenario {s['scenario']}  seed {s['seed']}  simulated {s['simulated_seconds']:,.0f} s  "
             f"wall {s.get('wall_seconds', 0):.2f} s  engine {s.get('engine', '')}",
             f"requests  arrived {r['arrived']:,}  completed {r['completed']:,}  rejected {r['rejected']:,}  "
             f"in flight {r['in_flight']:,}  preemptions {r.get('preemptions') or 0:,}",
             "",
             f"{'latency (ms)':<14}{'mean':>10}{'p50':>10}{'p90':>10}{'p99':>10}"]
    for k in ("ttft", "tpot", "itl", "e2e", "queue"):
        v = s["latency"][k]
        lines.append(f"{k:<14}{_ms(v['mean']):>10}{_ms(v['p50']):>10}{_ms(v['p90']):>10}{_ms(v['p99']):>10}")
    t = s["throughput"]
    u = s["utilization"]
    slo = s["slo"]
    att = "-" if slo["attainment"] is None else f"{slo['attainment']:.2%}"
    lines += ["",
              f"throughput  {t['requests_per_s']:,.2f} req/s  {t['input_tokens_per_s']:,.0f} in tok/s  "
              f"{t['output_tokens_per_s']:,.0f} out tok/s",
              f"SLO (TTFT <= {slo['ttft_s']:g} s, TPOT <= {slo['tpot_s']:g} s)  attainment {att}  "
              f"goodput {slo['goodput_rps']:,.2f} req/s",
              f"utilization  load factor {u.get('load_factor', 0.0):.2f}  MBU {u.get('mbu') or 0.0:.1%}  "
              f"MFU {u['mfu']:.1%}  KV cache mean {u['kv_cache_mean']:.1%}  GPU busy {u['gpu_busy']:.1%}",
              f"GPU-hours  provisioned {s['gpu_hours']['provisioned']:,.2f}  busy {s['gpu_hours']['busy']:,.2f}",
              f"cost  compute ${s['cost']['compute_usd']:,.2f}  "
              + ("-" if s['cost'].get('per_million_output_tokens') is None
                 else f"${s['cost']['per_million_output_tokens']:,.3f}") + " per 1M output tokens"]
    pools = s.get("pools") or {}
    if len(pools) > 1 or any(p.get("scale", 1) != 1 or p.get("replicas_mean") not in (None, p.get("replicas"))
                             for p in pools.values()):
        lines += ["", f"{'pool':<14}{'gpu':<12}{'replicas':>10}{'mean':>8}{'GPU-h':>12}{'busy':>8}{'KV':>7}"]
        for name, p in pools.items():
            mean = p.get("replicas_mean", p.get("replicas"))
            scale = f" x{p['scale']:g}" if p.get("scale", 1) != 1 else ""
            lines.append(f"{name:<14}{p['gpu']:<12}{str(p['replicas']) + scale:>10}{mean:>8.2f}"
                         f"{p['gpu_hours_provisioned']:>12,.1f}{p['gpu_busy']:>8.1%}{p['kv_cache_mean']:>7.1%}")
    classes = s.get("classes") or {}
    if classes:
        lines += ["", f"{'class':<14}{'completed':>10}{'TTFT p99 ms':>13}{'TPOT p99 ms':>13}{'SLO':>9}"]
        for name, c in classes.items():
            lat = c["latency"]
            att = c["slo"]["attainment"]
            lines.append(f"{name:<14}{c['requests']['completed']:>10,}{_ms(lat['ttft']['p99']):>13}"
                         f"{_ms(lat['tpot']['p99']):>13}{'-' if att is None else format(att, '.2%'):>9}")
    f = s.get("failures")
    if f:
        lines += ["", f"failures  {f.get('failures', 0)} failures, availability {f.get('availability', 0):.2%}, "
                      f"{f.get('requests_retried', 0):,} requests retried, {f.get('requests_failed', 0):,} failed"]
    d = s.get("disaggregation")
    if d:
        lines += ["", f"disaggregation  {d.get('prefill_pool')} -> {d.get('decode_pool')}: {d.get('transfers', 0):,} KV "
                      f"transfers, mean {(d.get('transfer_s_mean') or 0) * 1000:.2f} ms"]
    c = s.get("cashflow", {})
    if c:
        lines.append(f"cash flow (accrual)  revenue ${c.get('revenue', 0):,.2f}  compute ${c.get('compute_cost', 0):,.2f}  "
                     f"share paid ${c.get('revenue_share_paid', 0):,.2f}  received ${c.get('revenue_share_received', 0):,.2f}  "
                     f"net ${c.get('net', 0):,.2f}")
    econ = result.economics
    if econ is not None and econ.statement:
        lines += ["", econ.format_table()]
    return "\n".join(lines)
