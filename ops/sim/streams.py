"""Named random streams: one numpy Generator per activity of the hospital.

Every random quantity of a run is drawn from the stream of its activity, in the order of the patients or cases
it belongs to (the n-th ED attendance always takes the n-th numbers of the triage, treatment, admission, ...
streams). Two scenarios run with the same seed therefore see the same attendances, the same patients and the
same durations wherever their hospitals let them (common random numbers), and a what-if difference is not
drowned in sampling noise.
"""

from __future__ import annotations

import numpy as np

STREAM_NAMES: tuple[str, ...] = (
    "ed_arrivals",
    "triage",
    "ed_treatment",
    "admission",
    "service_routing",
    "pathway_routing",
    "length_of_stay",
    "discharge_timing",
    "ambulance",
    "extra_admission_arrivals",
    "extra_admission_cases",
    "elective_cases",
    "theatre_durations",
    "recovery",
    "emergency_surgery_arrivals",
    "emergency_surgery_cases",
    "start_state",
)
"""Activities with their own stream, in spawn order. Only ever append: the position fixes the stream."""


def as_seed_sequence(seed: int | np.random.SeedSequence) -> np.random.SeedSequence:
    """A fresh :class:`numpy.random.SeedSequence` for ``seed``.

    A given ``SeedSequence`` is copied (same entropy and spawn key, no children spawned yet), so spawning
    from the copy never depends on what the caller spawned from the original before.
    """
    if isinstance(seed, np.random.SeedSequence):
        return np.random.SeedSequence(
            entropy=seed.entropy, spawn_key=seed.spawn_key, pool_size=seed.pool_size
        )
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer or a SeedSequence, got {seed!r}")
    return np.random.SeedSequence(int(seed))


class RandomStreams:
    """One independent :class:`numpy.random.Generator` per activity of :data:`STREAM_NAMES`.

    Parameters
    ----------
    seed
        The run's seed; the streams are ``SeedSequence(seed).spawn(len(STREAM_NAMES))`` in that order.

    Examples
    --------
    >>> streams = RandomStreams(7)
    >>> a = streams["ed_arrivals"].random()
    >>> a == RandomStreams(7)["ed_arrivals"].random()
    True
    """

    def __init__(self, seed: int | np.random.SeedSequence) -> None:
        children = as_seed_sequence(seed).spawn(len(STREAM_NAMES))
        self._generators = {
            name: np.random.Generator(np.random.PCG64(child))
            for name, child in zip(STREAM_NAMES, children, strict=True)
        }

    def __getitem__(self, activity: str) -> np.random.Generator:
        try:
            return self._generators[activity]
        except KeyError:
            raise KeyError(f"no random stream for activity '{activity}' (streams: {STREAM_NAMES})") from None
