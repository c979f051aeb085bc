"""Tours through a distance matrix, and which stops a shift can afford (for :mod:`geo.routes`).

Ordering is a travelling-salesman problem: exact (Held-Karp dynamic programming) up to
:data:`EXACT_MAX_POINTS` points, beyond that nearest neighbour, then 2-opt and or-opt moves
until none improves, then a few seeded double-bridge kicks (iterated local search). Every move
is priced with both directions of the matrix, so one-way streets (an asymmetric matrix) are
handled exactly, not averaged away.

Choosing stops is an orienteering problem (collect the most priority within a time budget):
greedy insertion of the candidate with the best priority per added minute at its cheapest
place in the tour, re-ordering, then swapping a chosen stop for an unchosen one of higher
priority when it fits, until nothing changes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from geo.errors import InputError

__all__ = ["EXACT_MAX_POINTS", "choose_stops", "improve_tour", "order_stops", "tour_length"]

#: Up to this many points (start included) tours are solved exactly: 2^9 subsets, a few ms.
EXACT_MAX_POINTS = 10
#: Relative improvement below which a move is float noise, not progress (avoids cycling).
_EPS = 1e-10


def order_stops(dist: np.ndarray, *, kicks: int = 50, seed: int = 0) -> list[int]:
    """Order a closed tour through every point of a distance matrix, from and back to point 0.

    Exact (Held-Karp) up to :data:`EXACT_MAX_POINTS` points; beyond, nearest neighbour improved
    by 2-opt and or-opt (segments of 1-3 points moved, either way round) to a local optimum,
    then ``kicks`` seeded double-bridge perturbations, each kept only when it shortens the tour.
    The matrix may be asymmetric (one-way streets): every move is priced in the direction the
    tour runs.

    Parameters
    ----------
    dist
        Square matrix of finite, non-negative distances (or times); ``dist[i, j]`` is from i to j.
    kicks
        Perturbations tried after the first local optimum (0: plain local search).
    seed
        Seed of the perturbations; the same matrix and seed give the same tour.

    Returns
    -------
    list of int
        The visiting order, starting with 0 and without the return to 0.

    Examples
    --------
    >>> import numpy as np
    >>> xy = np.array([[0, 0], [0, 2], [1, 0], [1, 2], [0, 1]])
    >>> order_stops(np.abs(xy[:, None] - xy[None]).sum(-1))
    [0, 4, 1, 3, 2]
    """
    d = _check_matrix(dist)
    n = len(d)
    if n <= 2:
        return list(range(n))
    if n <= EXACT_MAX_POINTS:
        return _held_karp(d)
    return improve_tour(d, _nearest_neighbour(d), kicks=kicks, seed=seed)


def tour_length(dist: np.ndarray, tour: Sequence[int] | np.ndarray) -> float:
    """Length of the closed tour ``tour`` (back to its first point) under ``dist``."""
    t = np.asarray(tour, dtype=np.int64)
    if len(t) < 2:
        return 0.0
    return float(dist[t, np.roll(t, -1)].sum())


def improve_tour(
    dist: np.ndarray, tour: Sequence[int], *, kicks: int = 0, seed: int = 0
) -> list[int]:
    """Return a tour through the same points, never longer than ``tour``, still from ``tour[0]``.

    Exact for few points; else the better of ``tour`` and nearest neighbour, improved by local
    search and ``kicks`` double-bridge perturbations.
    """
    t = np.asarray(tour, dtype=np.int64)
    n = len(t)
    if n <= 2:
        return [int(i) for i in t]
    sub = dist[np.ix_(t, t)]
    if n <= EXACT_MAX_POINTS:
        return [int(t[i]) for i in _held_karp(sub)]
    best = _local_search(sub, np.arange(n))
    other = _local_search(sub, np.asarray(_nearest_neighbour(sub)))
    if tour_length(sub, other) < tour_length(sub, best):
        best = other
    rng = np.random.default_rng(seed)
    best_len = tour_length(sub, best)
    for _ in range(kicks if n >= 8 else 0):
        tried = _local_search(sub, _double_bridge(best, rng))
        tried_len = tour_length(sub, tried)
        if tried_len < best_len * (1 - _EPS):
            best, best_len = tried, tried_len
    return [int(t[i]) for i in best]


def choose_stops(
    minutes: np.ndarray,
    priority: np.ndarray,
    *,
    allowed: np.ndarray,
    dwell: float,
    budget: float,
    max_stops: int,
    kicks: int = 50,
) -> list[int]:
    """Choose and order stops so that travel + dwell fits ``budget``; point 0 is the start.

    Parameters
    ----------
    minutes
        Travel minutes between points (start = 0, candidates 1..), finite where ``allowed``.
    priority
        Worth of each point (the start's is ignored).
    allowed
        Which points may be visited (reachable both ways, priority > 0).
    dwell, budget, max_stops
        Minutes spent at each stop, minutes of the shift, most stops.

    Returns
    -------
    list of int
        The tour, starting with 0, without the return.
    """
    tour = [0]
    used = np.zeros(len(priority), dtype=bool)
    used[0] = True
    usable = allowed.copy()
    usable[0] = False
    # Insertion only adds and a swap strictly raises the priority collected, so this ends.
    while True:
        changed = _insert_greedily(minutes, priority, tour, used, usable, dwell, budget, max_stops)
        tour = improve_tour(minutes, tour)
        changed |= _swap_once(minutes, priority, tour, used, usable, dwell, budget)
        if not changed:
            break
    tour = improve_tour(minutes, tour, kicks=kicks)
    if _insert_greedily(minutes, priority, tour, used, usable, dwell, budget, max_stops):
        tour = improve_tour(minutes, tour, kicks=kicks)
    return tour


# --- choosing ----------------------------------------------------------------------------------


def _cost(minutes: np.ndarray, tour: list[int], dwell: float) -> float:
    return tour_length(minutes, tour) + dwell * (len(tour) - 1)


def _insertion(minutes: np.ndarray, tour: list[int], cand: np.ndarray) -> tuple[np.ndarray, ...]:
    """Cheapest place (index to insert before) and added travel of each candidate."""
    t = np.asarray(tour)
    nxt = np.roll(t, -1)
    added = minutes[t[None, :], cand[:, None]] + minutes[cand[:, None], nxt[None, :]]
    added = added - minutes[t, nxt][None, :]
    place = added.argmin(axis=1)
    return place + 1, added[np.arange(len(cand)), place]


def _insert_greedily(
    minutes: np.ndarray,
    priority: np.ndarray,
    tour: list[int],
    used: np.ndarray,
    usable: np.ndarray,
    dwell: float,
    budget: float,
    max_stops: int,
) -> bool:
    inserted = False
    while len(tour) - 1 < max_stops:
        cand = np.flatnonzero(usable & ~used)
        if not len(cand):
            break
        place, added = _insertion(minutes, tour, cand)
        extra = added + dwell
        fits = _cost(minutes, tour, dwell) + extra <= budget * (1 + _EPS)
        if not fits.any():
            break
        ratio = np.where(fits, priority[cand] / np.maximum(extra, 1e-9), -np.inf)
        k = int(ratio.argmax())
        tour.insert(int(place[k]), int(cand[k]))
        used[cand[k]] = True
        inserted = True
    return inserted


def _swap_once(
    minutes: np.ndarray,
    priority: np.ndarray,
    tour: list[int],
    used: np.ndarray,
    usable: np.ndarray,
    dwell: float,
    budget: float,
) -> bool:
    """Replace one chosen stop by an unchosen one of higher priority that then fits."""
    outside = np.flatnonzero(usable & ~used)
    outside = outside[np.argsort(-priority[outside], kind="stable")]
    chosen = sorted(tour[1:], key=lambda s: (priority[s], s))
    for c in outside:
        for s in chosen:
            if priority[s] >= priority[c]:
                break
            rest = [p for p in tour if p != s]
            place, added = _insertion(minutes, rest, np.array([c]))
            if _cost(minutes, rest, dwell) + added[0] + dwell <= budget * (1 + _EPS):
                rest.insert(int(place[0]), int(c))
                tour[:] = rest
                used[s], used[c] = False, True
                return True
    return False


# --- ordering ----------------------------------------------------------------------------------


def _check_matrix(dist: np.ndarray) -> np.ndarray:
    d = np.asarray(dist, dtype=float)
    if d.ndim != 2 or d.shape[0] != d.shape[1]:
        raise InputError(f"dist must be a square matrix, got shape {d.shape}.")
    if not np.isfinite(d).all() or (d < 0).any():
        raise InputError(
            "dist must hold finite, non-negative distances; drop the points that cannot be "
            "reached (inf) before ordering."
        )
    return d


def _held_karp(d: np.ndarray) -> list[int]:
    """Exact shortest closed tour from 0 by dynamic programming over subsets (n <= ~12)."""
    m = len(d) - 1
    full = 1 << m
    inner = d[1:, 1:]
    cost = np.full((full, m), np.inf)
    parent = np.full((full, m), -1, dtype=np.int64)
    cost[1 << np.arange(m), np.arange(m)] = d[0, 1:]
    members = (np.arange(full)[:, None] >> np.arange(m)) & 1
    for mask in range(1, full):
        out = np.flatnonzero(members[mask] == 0)
        if not len(out):
            continue
        via = cost[mask][:, None] + inner[:, out]  # rows: last point j in mask
        j = via.argmin(axis=0)
        best = via[j, np.arange(len(out))]
        grown = mask | (1 << out)
        better = best < cost[grown, out]
        cost[grown[better], out[better]] = best[better]
        parent[grown[better], out[better]] = j[better]
    last = int((cost[full - 1] + d[1:, 0]).argmin())
    order, mask = [], full - 1
    while last >= 0:
        order.append(last + 1)
        last, mask = int(parent[mask, last]), mask & ~(1 << last)
    return [0, *order[::-1]]


def _nearest_neighbour(d: np.ndarray) -> list[int]:
    n = len(d)
    seen = np.zeros(n, dtype=bool)
    seen[0] = True
    tour = [0]
    for _ in range(n - 1):
        row = np.where(seen, np.inf, d[tour[-1]])
        nxt = int(row.argmin())
        tour.append(nxt)
        seen[nxt] = True
    return tour


def _local_search(d: np.ndarray, tour: np.ndarray) -> np.ndarray:
    """2-opt until stuck, then the best or-opt move, repeated until neither improves."""
    t = np.asarray(tour, dtype=np.int64).copy()
    while True:
        while (moved := _two_opt(d, t)) is not None:
            t = moved
        moved = _or_opt(d, t)
        if moved is None:
            return t
        t = moved


def _prefix(d: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    nxt = np.roll(t, -1)
    step = d[t, nxt]
    forward = np.concatenate([[0.0], np.cumsum(step)])  # t[0] -> t[k] along the tour
    backward = np.concatenate([[0.0], np.cumsum(d[nxt, t])])  # the same stretch run backwards
    return step, forward, backward


def _two_opt(d: np.ndarray, t: np.ndarray) -> np.ndarray | None:
    """Best reversal of a stretch t[i..j] (1 <= i < j), or None when none shortens the tour."""
    n = len(t)
    _step, fwd, bwd = _prefix(d, t)
    i = np.arange(1, n)[:, None]
    j = np.arange(1, n)[None, :]
    a, b = t[i - 1], t[(j + 1) % n]
    delta = (
        d[a, t[j]] + d[t[i], b] - d[a, t[i]] - d[t[j], b] + (bwd[j] - bwd[i]) - (fwd[j] - fwd[i])
    )
    delta = np.where(j > i, delta, np.inf)
    k = int(delta.argmin())
    if not delta.flat[k] < -_EPS * (fwd[-1] + 1):
        return None
    bi, bj = int(i.flat[k // (n - 1)]), int(j.flat[k % (n - 1)])
    out = t.copy()
    out[bi : bj + 1] = t[bi : bj + 1][::-1]
    return out


def _or_opt(d: np.ndarray, t: np.ndarray) -> np.ndarray | None:
    """Best move of a stretch of 1-3 points elsewhere, either way round, or None."""
    n = len(t)
    step, fwd, bwd = _prefix(d, t)
    p = np.arange(n)
    tp, tp1 = t[p], t[(p + 1) % n]
    best: tuple[float, int, int, int, bool] = (-_EPS * (fwd[-1] + 1), 0, 0, 0, False)
    for length in (1, 2, 3):
        if length > n - 2:
            break
        i = np.arange(1, n - length + 1)
        first, last = t[i], t[i + length - 1]
        prev, after = t[i - 1], t[(i + length) % n]
        gain = d[prev, first] + d[last, after] - d[prev, after]
        turn = (bwd[i + length - 1] - bwd[i]) - (fwd[i + length - 1] - fwd[i])
        ahead = d[tp[None, :], first[:, None]] + d[last[:, None], tp1[None, :]] - step[None, :]
        around = d[tp[None, :], last[:, None]] + d[first[:, None], tp1[None, :]] - step[None, :]
        around = around + turn[:, None]
        # Edges touching the stretch (p = i-1 .. i+length-1) are not places to move it to.
        touching = (p[None, :] >= i[:, None] - 1) & (p[None, :] <= i[:, None] + length - 1)
        for rev, added in ((False, ahead), (True, around)):
            delta = np.where(touching, np.inf, added - gain[:, None])
            k = int(delta.argmin())
            if delta.flat[k] < best[0]:
                best = (float(delta.flat[k]), int(i[k // n]), length, k % n, rev)
    _, start, length, place, rev = best
    if length == 0:
        return None
    stretch = t[start : start + length][:: -1 if rev else 1]
    if place < start:
        parts = [t[: place + 1], stretch, t[place + 1 : start], t[start + length :]]
    else:
        parts = [t[:start], t[start + length : place + 1], stretch, t[place + 1 :]]
    return np.concatenate(parts)


def _double_bridge(t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Cut the tour (after 0) into A B C D and rejoin as A C B D: no stretch is reversed."""
    cuts = np.sort(rng.choice(np.arange(2, len(t)), size=3, replace=False))
    a, b, c = (int(x) for x in cuts)
    return np.concatenate([t[:a], t[b:c], t[a:b], t[c:]])
