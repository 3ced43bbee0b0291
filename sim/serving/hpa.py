"""The Kubernetes Horizontal Pod Autoscaler's decision, one rule for both tiers.

Two pieces of the HPA controller that :mod:`sim.serving.autoscaler` (request level) and
:mod:`sim.fluid.autoscale` (fluid tier) both apply, so the tiers cannot drift apart:

**Not-yet-ready replicas** (``replica_calculator.go``, ``GetResourceReplicas`` and
``calcPlainMetricReplicas``, with ``groupPods``: a ``Pending`` pod, or for CPU one not ``Ready``, is
"unready"; <https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/#algorithm-details>).
The metric's average is taken over the ready pods, ``ratio = metric / target``. If it asks for a
scale-up (``ratio > 1``) while pods are still starting, the HPA re-computes the average with each of
them at 0 and keeps the current replicas if that ratio, ``ratio x ready / (ready + unready)``, is
within the tolerance band or below 1 (the direction would flip); otherwise it asks for
``ceil(new ratio x (ready + unready)) = ceil(ratio x ready)``, never fewer than the current replicas.
On a scale-down (``ratio < 1``) unready pods are left out: ``ceil(ratio x ready)``, the band checked
on ``ratio``. Here a replica within its ``scale_up_delay`` is such a pod, and so is a failed replica
under repair (its container restarting reports no metric, read as 0 on a scale-up too; a pod
replacing it is ``Pending``). An ``Object`` or ``External``
``Value`` metric (``ttft`` here) counts ready pods only and has no such step (``getUsageRatioReplicaCount``).

**Scale-up rate** (``horizontal.go``, ``calculateScaleUpLimitWithScalingRules``; the defaults of
``behavior.scaleUp`` in ``pkg/apis/autoscaling/v2/defaults.go``: policies ``Pods 4`` and
``Percent 100`` per 15 s, ``selectPolicy: Max``, no stabilization window; "Configurable scaling
behavior" and "Default Behavior" on the page above). Each policy caps the replicas at the end of a
decision from the replicas at the start of its period, ``start = current - added + removed`` in the
last ``period`` seconds: ``start + pods`` or ``ceil(start x (1 + percent / 100))``; the larger cap
applies (never below the current replicas)::

    >>> scale_up_limit(3, 0, 0, 4, 100)       # max(3 + 4, ceil(3 x 2))
    7
    >>> scale_up_limit(10, 0, 0, 4, 100), scale_up_limit(10, 0, 0, 4, 50)
    (20, 15)
    >>> scale_up_limit(8, 4, 0, 4, 100)       # 4 added from 4 within the period: none more until it ends
    8
    >>> scale_up_limit(5, 0, 0, None, None)   # no policy: no cap
    inf
"""
from __future__ import annotations

import math
from collections import deque


def keeps_current(ratio: float, ready: float, unready: float, tolerance: float, rebalance: bool = True) -> bool:
    """Whether the HPA returns the current replicas for a reading ``ratio = metric / target`` averaged
    over ``ready`` pods with ``unready`` more starting (see the module docstring): the ratio within the
    band, bounds included (``|1 - ratio| <= tolerance``: at ``tolerance`` 0 a ratio of exactly 1, which
    keeps pods starting that ``ceil(ratio x ready)`` would take back), or, on a scale-up with pods
    starting (``rebalance``), the ratio with them at 0 no longer past the band.

        >>> keeps_current(1.8, 3, 2, 0.1)         # 1.8 x 3 / 5 = 1.08: inside the band
        True
        >>> keeps_current(1.2, 3, 2, 0.1), keeps_current(1.2, 3, 2, 0.0)   # 0.72: would turn down
        (True, True)
        >>> keeps_current(2.0, 3, 2, 0.1), keeps_current(1.8, 3, 2, 0.1, rebalance=False)
        (False, False)
        >>> keeps_current(1.0, 3, 2, 0.0), keeps_current(0.99, 3, 2, 0.0)
        (True, False)
    """
    if rebalance and unready > 0 and ratio > 1.0:
        return ratio * ready / (ready + unready) <= 1.0 + tolerance
    return 1.0 - tolerance <= ratio <= 1.0 + tolerance      # bounds included: at tolerance 0, a ratio of 1


def desired_replicas(ratio: float, ready: int, unready: int, current: int, tolerance: float,
                     rebalance: bool = True) -> int:
    """The HPA's recommendation from a reading ``ratio`` over ``ready`` pods, ``unready`` more starting
    and ``current`` replicas (see the module docstring), before ``[min, max]`` and the rate limits.

        >>> desired_replicas(1.8, 3, 2, 5, 0.1), desired_replicas(1.8, 3, 0, 3, 0.1)
        (5, 6)
        >>> desired_replicas(2.0, 3, 2, 5, 0.1)   # 2 x 3 / 5 = 1.2: up, to ceil(2 x 3)
        6
        >>> desired_replicas(0.5, 3, 2, 5, 0.1)   # a scale-down reads the ready pods only
        2
    """
    if keeps_current(ratio, ready, unready, tolerance, rebalance):
        return current
    want = math.ceil(ready * ratio - 1e-9)
    if rebalance and unready > 0 and ratio > 1.0:
        return max(want, current)
    return want


def period_changes(events) -> tuple[float, float]:
    """The replicas added and removed by the ``(time, change)`` events of the policies' period, the
    ``added`` and ``removed`` of :func:`scale_up_limit` (both tiers log their decisions so).

        >>> period_changes([(0.0, 4), (5.0, -1), (10.0, 2)])
        (6, 1)
    """
    return sum(c for _, c in events if c > 0), -sum(c for _, c in events if c < 0)


def scale_up_limit(current: float, added: float, removed: float, pods: int | None, percent: int | None) -> float:
    """The most replicas a scale-up may reach now (see the module docstring): ``added`` and ``removed``
    replicas in the policies' period; ``pods``, ``percent`` the two policies (``None``: not set).

    Never below 1: a pool at zero gets its first replica back whatever the policies, as the activation
    of a scale-to-zero deployment is not the HPA's but KEDA's (or Knative's), which sets the replicas to
    1 itself and hands the HPA the rest (<https://keda.sh/docs/2.17/concepts/scaling-deployments/>;
    kedacore/keda#3052). The Percent policy alone would hold a pool at zero there for ever::

        >>> scale_up_limit(0, 0, 0, None, 100), scale_up_limit(0, 0, 0, 4, 100)
        (1, 4)
    """
    if pods is None and percent is None:
        return math.inf
    start = current - added + removed
    caps = []
    if pods is not None:
        caps.append(start + pods)
    if percent is not None:
        caps.append(-(-round(start * (100 + percent)) // 100))     # ceil, in whole numbers: no float rounding
    return max(max(caps), current, 1)


class StabilizationWindow:
    """The largest recommendation of the last ``seconds`` (the HPA's scale-down stabilization window), kept
    as the recommendations no later one is at least as large as: each is added and dropped once, so a
    decision costs O(1) on average however many the window holds (an autoscaler deciding every millisecond
    under a 300 s cooldown held 300,000 and read them all at every decision).

        >>> w = StabilizationWindow(10.0)
        >>> [w.add(t, r) for t, r in ((0, 5), (4, 3), (8, 4), (11, 2), (15, 1))]   # 5 drops out after t = 10
        [5, 5, 5, 4, 4]
        >>> StabilizationWindow(0.0).add(3, 7)     # no window: the recommendation itself
        7
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._kept: deque[tuple[float, int]] = deque()     # times rising, recommendations falling

    def add(self, t: float, recommendation: int) -> int:
        """Add ``recommendation`` made at ``t`` and return the largest within ``(t - seconds, t]``
        (``recommendation`` itself when the window is 0 s)."""
        kept = self._kept
        while kept and kept[-1][1] <= recommendation:
            kept.pop()
        kept.append((t, recommendation))
        while kept and kept[0][0] <= t - self.seconds:
            kept.popleft()
        return kept[0][1] if kept else recommendation
