"""A lower bound on a roster's penalty from counting: nurses that cannot be there leave shifts uncovered.

Every roster's penalty is at least what its unavoidable shortfall costs. Counting shifts gives such a
shortfall without solving anything: a nurse works at most one shift a day, not on her days off or leave,
no more shifts than her most minutes allow (and her per-shift limits, when every shift has one), and on
weekends no more days than her best ``max_weekends`` weekends hold. Whatever the cover asks beyond what
all nurses together can give goes uncovered, and each uncovered nurse-shift costs at least the cheapest
way a cover line can pay for it (its under-cover weight, or an agency nurse when one may be booked), the
shortfall falling on the cheapest lines it can.

The count is split into weekend and weekday lines, since a most-weekends rule binds on weekends even
when the nurses have shifts to spare over the whole horizon (Curtois Instance10: 46 weekend nurse-shifts
short whatever the roster, hence at least 4,600 of the best known 4,631). Skills, units, runs and rest
are ignored, which only makes the bound weaker, never wrong. Agency bookings can replace a shortfall, so
lines an agency may serve are counted at the cheaper of the two prices; lines whose under-cover costs
nothing are left out.
"""

from __future__ import annotations

from dataclasses import dataclass

from scheduler.roster.problem import CoverRequirement, Nurse, RosterProblem

__all__ = ["CoverBound", "cover_lower_bound", "priced_lines_by_part", "shortfall_caps"]


@dataclass(frozen=True)
class CoverBound:
    """What :func:`cover_lower_bound` found.

    Attributes
    ----------
    short_nurse_shifts
        Nurse-shifts that no roster can cover (weekend and weekday counts added, or the whole horizon's
        when that is larger) [count].
    weight
        Least penalty of one uncovered nurse-shift on the lines counted [objective units].
    penalty
        What the uncovered nurse-shifts cost at least, each on the cheapest lines it could fall on: no
        roster's objective is below this.
    """

    short_nurse_shifts: int
    weight: int
    penalty: int


def _line_weight(problem: RosterProblem, line: CoverRequirement) -> int:
    """The least one missing nurse on ``line`` can cost: under-cover, or an agency nurse if allowed."""
    offer = problem.agency_offer(line.skill)
    if offer is not None and offer.serves(line.unit_id) and offer.max_nurses_per_shift > 0:
        return min(line.under_weight, offer.cost_per_shift)
    return line.under_weight


def _most_shifts(problem: RosterProblem, nurse: Nurse) -> int:
    """Most shifts ``nurse`` can work over the horizon, by days available, minutes and shift limits."""
    most = problem.days - len(nurse.unavailable_days & set(range(problem.days)))
    contract = nurse.contract
    if contract.max_total_minutes is not None:
        shortest = min(shift.length_minutes for shift in problem.shifts)
        if shortest > 0:
            most = min(most, contract.max_total_minutes // shortest)
    limits = [contract.shift_limit(shift.shift_id) for shift in problem.shifts]
    if all(limit is not None for limit in limits):
        most = min(most, sum(limit for limit in limits if limit is not None))
    return max(0, most)


def _most_weekend_shifts(problem: RosterProblem, nurse: Nurse, most: int) -> int:
    """Most weekend shifts: the days she is free on her best ``max_weekends`` weekends (one shift a day)."""
    free_days = sorted(
        (sum(1 for day in weekend if day not in nurse.unavailable_days) for weekend in problem.weekends()),
        reverse=True,
    )
    allowed = nurse.contract.max_weekends
    return min(most, sum(free_days if allowed is None else free_days[:allowed]))


@dataclass(frozen=True)
class _Count:
    """Prices of the nurses asked for (cheapest first) and the most shifts the nurses can give."""

    weekend_prices: list[int]
    weekday_prices: list[int]
    given: int
    given_weekends: int
    given_weekdays: int

    @property
    def short_weekends(self) -> int:
        return max(0, len(self.weekend_prices) - self.given_weekends)

    @property
    def short_weekdays(self) -> int:
        return max(0, len(self.weekday_prices) - self.given_weekdays)


def _priced_lines(problem: RosterProblem) -> list[CoverRequirement]:
    """Lines whose missing nurses cost something (the only ones the bound counts)."""
    return [line for line in problem.cover if line.required_nurses > 0 and _line_weight(problem, line) > 0]


def _count(problem: RosterProblem) -> _Count:
    weekend_lines, weekday_lines = priced_lines_by_part(problem)
    # the price of each nurse asked for, cheapest first: a roster leaves the cheapest ones uncovered
    weekend_prices = sorted(
        _line_weight(problem, line) for line in weekend_lines for _ in range(line.required_nurses)
    )
    weekday_prices = sorted(
        _line_weight(problem, line) for line in weekday_lines for _ in range(line.required_nurses)
    )
    weekend_days = {day for weekend in problem.weekends() for day in weekend}
    given = given_weekends = given_weekdays = 0
    weekdays = [day for day in range(problem.days) if day not in weekend_days]
    for nurse in problem.nurses:
        most = _most_shifts(problem, nurse)
        given += most
        given_weekends += _most_weekend_shifts(problem, nurse, most)
        given_weekdays += min(most, sum(1 for day in weekdays if day not in nurse.unavailable_days))
    return _Count(weekend_prices, weekday_prices, given, given_weekends, given_weekdays)


def cover_lower_bound(problem: RosterProblem) -> CoverBound:
    """A lower bound on the objective of every roster of ``problem``, from counting shifts (see module).

    Examples
    --------
    >>> from scheduler.roster.problem import Contract, CoverRequirement, Nurse, RosterProblem, ShiftType
    >>> problem = RosterProblem(
    ...     days=1,
    ...     shifts=(ShiftType("early", 480),),
    ...     nurses=(Nurse("ana", Contract(), skills={"rn"}, units={"ward"}),),
    ...     cover=(CoverRequirement(0, "early", "ward", "rn", 3, under_weight=100, over_weight=1),),
    ... )
    >>> cover_lower_bound(problem)
    CoverBound(short_nurse_shifts=2, weight=100, penalty=200)
    """
    count = _count(problem)
    prices = count.weekend_prices + count.weekday_prices
    if not prices:
        return CoverBound(short_nurse_shifts=0, weight=0, penalty=0)
    short_overall = max(0, len(prices) - count.given)
    by_part = sum(count.weekend_prices[: count.short_weekends]) + sum(
        count.weekday_prices[: count.short_weekdays]
    )
    overall = sum(sorted(prices)[:short_overall])
    return CoverBound(
        short_nurse_shifts=max(count.short_weekends + count.short_weekdays, short_overall),
        weight=min(prices),
        penalty=max(by_part, overall),
    )


def _most_short(prices: list[int], fewest: int, budget: int) -> int:
    """Most of ``prices`` (cheapest first) that can go unpaid, at least ``fewest``, within ``budget``."""
    most = fewest
    spent = sum(prices[:fewest])
    while most < len(prices) and spent + prices[most] <= budget:
        spent += prices[most]
        most += 1
    return most


def shortfall_caps(problem: RosterProblem, objective: int) -> tuple[int, int] | None:
    """Most nurses short on weekend lines and on weekday lines in any roster costing at most ``objective``.

    Every roster leaves at least the counted weekend and weekday nurse-shifts uncovered (see the module),
    and pays for each at least the cheapest prices; so a roster no dearer than ``objective`` cannot be
    short of more than these caps. Summed over the priced lines' ``shortfall`` variables, they may be
    posted as constraints in a search for a roster no worse than one costing ``objective``. None when
    agency nurses may be booked (a booking also covers a line, so shortfall alone would not be capped
    soundly) or nothing is priced.
    """
    if problem.agency:
        return None
    count = _count(problem)
    if not count.weekend_prices and not count.weekday_prices:
        return None
    least_weekday = sum(count.weekday_prices[: count.short_weekdays])
    least_weekend = sum(count.weekend_prices[: count.short_weekends])
    return (
        _most_short(count.weekend_prices, count.short_weekends, objective - least_weekday),
        _most_short(count.weekday_prices, count.short_weekdays, objective - least_weekend),
    )


def priced_lines_by_part(problem: RosterProblem) -> tuple[list[CoverRequirement], list[CoverRequirement]]:
    """The priced cover lines of weekend days and of weekdays (those :func:`shortfall_caps` caps)."""
    weekend_days = {day for weekend in problem.weekends() for day in weekend}
    lines = _priced_lines(problem)
    return [line for line in lines if line.day in weekend_days], [
        line for line in lines if line.day not in weekend_days
    ]
