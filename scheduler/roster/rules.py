"""CP-SAT variables of the roster and one small ``add_<rule>`` function per rule.

Each ``add_<rule>(model, variables, problem)`` posts the constraints of one rule and returns the penalty
terms it contributes (empty for hard rules). :func:`scheduler.roster.model.build_roster_model` calls them
in turn and assembles the objective once from the returned terms.

Hard rules are posted with ``variables.enforcement(rule, subject)``: an empty list normally, or one
assumption literal per rule and nurse (or cover line) when the model is built to explain infeasibility.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from scheduler.roster.problem import (
    MINUTES_PER_DAY,
    TERM_AGENCY_COST,
    TERM_COVER_SHORTFALL,
    TERM_COVER_SURPLUS,
    TERM_NIGHT_SPREAD,
    TERM_SHIFT_OFF_REQUESTS,
    TERM_SHIFT_ON_REQUESTS,
    TERM_WEEKEND_SPREAD,
    HardRule,
    Nurse,
    RosterProblem,
)

WorkKey = tuple[str, int, str, str, str]
"""(nurse_id, day, shift_id, unit_id, skill)."""
CoverKey = tuple[int, str, str, str]
"""(day, shift_id, unit_id, skill)."""


@dataclass(frozen=True)
class PenaltyTerm:
    """``weight × expression`` added to the objective under the name ``term``."""

    term: str
    weight: int
    expression: cp_model.LinearExprT


class RuleGuards:
    """Assumption literals switching hard rules on, one per (rule, subject); used to explain infeasibility."""

    def __init__(self, model: cp_model.CpModel) -> None:
        self._model = model
        self.literals: dict[tuple[str, str], cp_model.IntVar] = {}

    def literal(self, rule: HardRule, subject: str) -> cp_model.IntVar:
        """The literal that enforces ``rule`` for ``subject`` (created on first use)."""
        key = (rule.value, subject)
        if key not in self.literals:
            self.literals[key] = self._model.new_bool_var(f"enforce[{rule.value}: {subject}]")
        return self.literals[key]


@dataclass
class RosterVariables:
    """The decision variables of a roster model.

    Attributes
    ----------
    works
        1 when a nurse works a shift on a day on a unit with a skill; only where a cover line exists and the
        nurse has the unit and the skill.
    works_shift
        1 when a nurse works a shift on a day (on any unit); ``never`` where impossible.
    works_day
        1 when a nurse works on a day.
    weekend_worked
        1 when a nurse works on weekend number ``w`` (index into :meth:`RosterProblem.weekends`).
    agency
        Agency nurses booked per cover line.
    extra_nurses
        Hypothetical extra nurses per cover line with a hard minimum (only when explaining infeasibility).
    never
        A literal fixed to false.
    guards
        Assumption literals of the hard rules, or None for a normal solve.
    shortfall
        Nurses short per cover line, for lines whose under-cover is penalised (filled by :func:`add_cover`).
    """

    problem: RosterProblem
    works: dict[WorkKey, cp_model.IntVar]
    works_shift: dict[tuple[str, int, str], cp_model.IntVar]
    works_day: dict[tuple[str, int], cp_model.IntVar]
    weekend_worked: dict[tuple[str, int], cp_model.IntVar]
    agency: dict[CoverKey, cp_model.IntVar]
    extra_nurses: dict[CoverKey, cp_model.IntVar]
    never: cp_model.IntVar
    guards: RuleGuards | None = None
    work_pattern_automaton: bool = True
    works_by_cover: dict[CoverKey, list[cp_model.IntVar]] = field(default_factory=dict)
    works_by_nurse_day: dict[tuple[str, int], list[cp_model.IntVar]] = field(default_factory=dict)
    shortfall: dict[CoverKey, cp_model.IntVar] = field(default_factory=dict)

    def enforcement(self, rule: HardRule, subject: str) -> list[cp_model.IntVar]:
        """Enforcement literals for a hard rule: none normally, one assumption when explaining."""
        if self.guards is None:
            return []
        return [self.guards.literal(rule, subject)]


def create_variables(
    model: cp_model.CpModel,
    problem: RosterProblem,
    *,
    with_extra_nurses: bool = False,
    guards: RuleGuards | None = None,
) -> RosterVariables:
    """Create the roster variables with readable names.

    Parameters
    ----------
    model
        The CP-SAT model to add the variables to.
    problem
        The roster problem.
    with_extra_nurses
        Add hypothetical extra nurses on cover lines with a hard minimum (for infeasibility explanations).
    guards
        Assumption literals for the hard rules, when explaining infeasibility.
    """
    never = model.new_bool_var("never")
    model.add(never == 0)
    lines_by_day_shift: dict[tuple[int, str], list[CoverKey]] = defaultdict(list)
    for line in problem.cover:
        lines_by_day_shift[(line.day, line.shift_id)].append(line.key)

    works: dict[WorkKey, cp_model.IntVar] = {}
    works_shift: dict[tuple[str, int, str], cp_model.IntVar] = {}
    works_day: dict[tuple[str, int], cp_model.IntVar] = {}
    works_by_cover: dict[CoverKey, list[cp_model.IntVar]] = defaultdict(list)
    works_by_nurse_day: dict[tuple[str, int], list[cp_model.IntVar]] = defaultdict(list)
    for nurse in problem.nurses:
        n = nurse.nurse_id
        for day in range(problem.days):
            works_day[(n, day)] = model.new_bool_var(f"works_day[{n}, day {day}]")
            for shift_id in problem.shift_ids:
                choices = []
                for key in lines_by_day_shift.get((day, shift_id), []):
                    _, _, unit_id, skill = key
                    if unit_id in nurse.units and skill in nurse.skills:
                        var = model.new_bool_var(f"works[{n}, day {day}, {shift_id}, {unit_id}, {skill}]")
                        works[(n, day, shift_id, unit_id, skill)] = var
                        works_by_cover[key].append(var)
                        works_by_nurse_day[(n, day)].append(var)
                        choices.append(var)
                if not choices:
                    works_shift[(n, day, shift_id)] = never
                elif len(choices) == 1:
                    works_shift[(n, day, shift_id)] = choices[0]
                else:
                    on_shift = model.new_bool_var(f"works_shift[{n}, day {day}, {shift_id}]")
                    model.add(sum(choices) == on_shift)
                    works_shift[(n, day, shift_id)] = on_shift

    weekend_worked: dict[tuple[str, int], cp_model.IntVar] = {}
    for nurse in problem.nurses:
        n = nurse.nurse_id
        for index, weekend_days in enumerate(problem.weekends()):
            if len(weekend_days) == 1:
                weekend_worked[(n, index)] = works_day[(n, weekend_days[0])]
                continue
            worked = model.new_bool_var(f"weekend_worked[{n}, weekend {index}]")
            day_literals = [works_day[(n, d)] for d in weekend_days]
            model.add_max_equality(worked, day_literals)
            weekend_worked[(n, index)] = worked

    agency: dict[CoverKey, cp_model.IntVar] = {}
    extra_nurses: dict[CoverKey, cp_model.IntVar] = {}
    for line in problem.cover:
        offer = problem.agency_offer(line.skill)
        if offer is not None and offer.serves(line.unit_id) and offer.max_nurses_per_shift > 0:
            agency[line.key] = model.new_int_var(
                0,
                offer.max_nurses_per_shift,
                f"agency[day {line.day}, {line.shift_id}, {line.unit_id}, {line.skill}]",
            )
        if with_extra_nurses and line.minimum_nurses > 0:
            extra_nurses[line.key] = model.new_int_var(
                0,
                line.minimum_nurses,
                f"extra_nurses[day {line.day}, {line.shift_id}, {line.unit_id}, {line.skill}]",
            )
    return RosterVariables(
        problem=problem,
        works=works,
        works_shift=works_shift,
        works_day=works_day,
        weekend_worked=weekend_worked,
        agency=agency,
        extra_nurses=extra_nurses,
        never=never,
        guards=guards,
        works_by_cover=dict(works_by_cover),
        works_by_nurse_day=dict(works_by_nurse_day),
    )


# ---------------------------------------------------------------------- hard rules


def add_one_shift_per_day(
    model: cp_model.CpModel, variables: RosterVariables, problem: RosterProblem
) -> list[PenaltyTerm]:
    """A nurse works at most one shift a day; ``works_day`` is the sum of the day's assignments."""
    for (n, day), worked in variables.works_day.items():
        model.add(sum(variables.works_by_nurse_day.get((n, day), [])) == worked)
    return []


def add_days_off(
    model: cp_model.CpModel, variables: RosterVariables, problem: RosterProblem
) -> list[PenaltyTerm]:
    """No work on a nurse's fixed days off or leave days."""
    for nurse in problem.nurses:
        n = nurse.nurse_id
        for rule, days in ((HardRule.DAYS_OFF, nurse.days_off), (HardRule.LEAVE, nurse.leave_days)):
            guard = variables.enforcement(rule, n) if days else []
            for day in sorted(days):
                model.add(variables.works_day[(n, day)] == 0).only_enforce_if(guard)
    return []


def add_max_shifts_per_type(
    model: cp_model.CpModel, variables: RosterVariables, problem: RosterProblem
) -> list[PenaltyTerm]:
    """At most ``contract.max_shifts[shift]`` shifts of each type over the horizon."""
    for nurse in problem.nurses:
        n = nurse.nurse_id
        for shift_id, limit in sorted(nurse.contract.max_shifts.items()):
            shifts = [variables.works_shift[(n, d, shift_id)] for d in range(problem.days)]
            if limit >= problem.days:
                continue
            guard = variables.enforcement(HardRule.MAX_SHIFTS_PER_TYPE, n)
            model.add(sum(shifts) <= limit).only_enforce_if(guard)
    return []


def _minutes_worked(variables: RosterVariables, problem: RosterProblem, nurse: Nurse) -> cp_model.LinearExpr:
    n = nurse.nurse_id
    shift_vars = []
    minutes = []
    for day in range(problem.days):
        for shift in problem.shifts:
            var = variables.works_shift[(n, day, shift.shift_id)]
            if var is not variables.never:
                shift_vars.append(var)
                minutes.append(shift.length_minutes)
    return cp_model.LinearExpr.weighted_sum(shift_vars, minutes)


def add_total_minutes(
    model: cp_model.CpModel, variables: RosterVariables, problem: RosterProblem
) -> list[PenaltyTerm]:
    """Minutes worked over the horizon within the contract's minimum and maximum."""
    for nurse in problem.nurses:
        n = nurse.nurse_id
        worked = _minutes_worked(variables, problem, nurse)
        contract = nurse.contract
        if contract.min_total_minutes > 0:
            guard = variables.enforcement(HardRule.MIN_TOTAL_MINUTES, n)
            model.add(worked >= contract.min_total_minutes).only_enforce_if(guard)
        if contract.max_total_minutes is not None:
            guard = variables.enforcement(HardRule.MAX_TOTAL_MINUTES, n)
            model.add(worked <= contract.max_total_minutes).only_enforce_if(guard)
    return []


def add_max_consecutive_shifts(
    model: cp_model.CpModel, variables: RosterVariables, problem: RosterProblem
) -> list[PenaltyTerm]:
    """No more than ``max_consecutive_shifts`` worked days in any window of that length plus one."""
    for nurse in problem.nurses:
        limit = nurse.contract.max_consecutive_shifts
        if limit is None or limit >= problem.days:
            continue
        n = nurse.nurse_id
        guard = variables.enforcement(HardRule.MAX_CONSECUTIVE_SHIFTS, n)
        for first in range(problem.days - limit):
            window = [variables.works_day[(n, d)] for d in range(first, first + limit + 1)]
            model.add_bool_or([w.Not() for w in window]).only_enforce_if(guard)
    return []


def add_min_consecutive_shifts(
    model: cp_model.CpModel, variables: RosterVariables, problem: RosterProblem
) -> list[PenaltyTerm]:
    """Forbid runs of worked days shorter than ``min_consecutive_shifts`` inside the horizon.

    The pattern *off, work × L, off* with ``L`` below the minimum is forbidden when both off days lie in
    the horizon and neither is a leave day.
    """
    for nurse in problem.nurses:
        shortest = nurse.contract.min_consecutive_shifts
        if shortest <= 1:
            continue
        n = nurse.nurse_id
        guard = variables.enforcement(HardRule.MIN_CONSECUTIVE_SHIFTS, n)
        for length in range(1, shortest):
            for first in range(1, problem.days - length):
                before, after = first - 1, first + length
                if before in nurse.leave_days or after in nurse.leave_days:
                    continue
                run = [variables.works_day[(n, d)] for d in range(first, after)]
                clause = [
                    variables.works_day[(n, before)],
                    *(w.Not() for w in run),
                    variables.works_day[(n, after)],
                ]
                model.add_bool_or(clause).only_enforce_if(guard)
    return []


def add_min_consecutive_days_off(
    model: cp_model.CpModel, variables: RosterVariables, problem: RosterProblem
) -> list[PenaltyTerm]:
    """Forbid the pattern *work, off × L, work* with ``L`` below ``min_consecutive_days_off``."""
    for nurse in problem.nurses:
        shortest = nurse.contract.min_consecutive_days_off
        if shortest <= 1:
            continue
        n = nurse.nurse_id
        guard = variables.enforcement(HardRule.MIN_CONSECUTIVE_DAYS_OFF, n)
        for length in range(1, shortest):
            for first in range(1, problem.days - length):
                before, after = first - 1, first + length
                rest = [variables.works_day[(n, d)] for d in range(first, after)]
                clause = [
                    variables.works_day[(n, before)].Not(),
                    *rest,
                    variables.works_day[(n, after)].Not(),
                ]
                model.add_bool_or(clause).only_enforce_if(guard)
    return []


def add_max_weekends(
    model: cp_model.CpModel, variables: RosterVariables, problem: RosterProblem
) -> list[PenaltyTerm]:
    """At most ``max_weekends`` weekends with a worked Saturday or Sunday."""
    weekends = problem.weekends()
    for nurse in problem.nurses:
        limit = nurse.contract.max_weekends
        if limit is None or limit >= len(weekends):
            continue
        n = nurse.nurse_id
        guard = variables.enforcement(HardRule.MAX_WEEKENDS, n)
        worked = [variables.weekend_worked[(n, w)] for w in range(len(weekends))]
        model.add(sum(worked) <= limit).only_enforce_if(guard)
    return []


def add_complete_weekends(
    model: cp_model.CpModel, variables: RosterVariables, problem: RosterProblem
) -> list[PenaltyTerm]:
    """Work both days of a full weekend or neither, for nurses whose contract asks for it."""
    for nurse in problem.nurses:
        if not nurse.contract.complete_weekends:
            continue
        n = nurse.nurse_id
        guard = variables.enforcement(HardRule.COMPLETE_WEEKENDS, n)
        for weekend_days in problem.weekends():
            if len(weekend_days) < 2 or any(d in nurse.leave_days for d in weekend_days):
                continue
            saturday, sunday = weekend_days
            model.add(variables.works_day[(n, saturday)] == variables.works_day[(n, sunday)]).only_enforce_if(
                guard
            )
    return []


def forbidden_successions(problem: RosterProblem, nurse: Nurse) -> dict[tuple[str, str, int], HardRule]:
    """Shift pairs a nurse may not work ``gap`` days apart: ``{(earlier, later, gap): rule}``.

    Pairs come from :attr:`ShiftType.forbidden_next` (gap 1) and, when both shifts have start times,
    from the contract's minimum rest (rest shorter than ``min_rest_minutes``, or overlapping shifts).
    """
    pairs: dict[tuple[str, str, int], HardRule] = {}
    for earlier in problem.shifts:
        for later_id in sorted(earlier.forbidden_next):
            pairs[(earlier.shift_id, later_id, 1)] = HardRule.FORBIDDEN_SUCCESSION
    for earlier in problem.shifts:
        if earlier.start_minute is None:
            continue
        end = earlier.start_minute + earlier.length_minutes
        for later in problem.shifts:
            if later.start_minute is None:
                continue
            gap = 1
            while gap < problem.days:
                rest = gap * MINUTES_PER_DAY + later.start_minute - end
                if rest >= nurse.contract.min_rest_minutes:
                    break
                pairs.setdefault((earlier.shift_id, later.shift_id, gap), HardRule.MIN_REST)
                gap += 1
    return pairs


def add_shift_successions(
    model: cp_model.CpModel, variables: RosterVariables, problem: RosterProblem
) -> list[PenaltyTerm]:
    """Forbidden shift successions (e.g. night → early) and the minimum rest between shifts."""
    for nurse in problem.nurses:
        n = nurse.nurse_id
        for (earlier, later, gap), rule in sorted(forbidden_successions(problem, nurse).items()):
            guard = variables.enforcement(rule, n)
            for day in range(problem.days - gap):
                first = variables.works_shift[(n, day, earlier)]
                second = variables.works_shift[(n, day + gap, later)]
                if first is variables.never or second is variables.never:
                    continue
                model.add_bool_or([first.Not(), second.Not()]).only_enforce_if(guard)
    return []


# ---------------------------------------------------------------------- cover and cost


def add_cover(
    model: cp_model.CpModel, variables: RosterVariables, problem: RosterProblem
) -> list[PenaltyTerm]:
    """Cover per day × shift × unit × skill: hard minimum, penalties for under- and over-cover."""
    terms: list[PenaltyTerm] = []
    for line in problem.cover:
        key = line.key
        label = f"day {line.day}, {line.shift_id}, {line.unit_id}, {line.skill}"
        staff = variables.works_by_cover.get(key, [])
        count = cp_model.LinearExpr.sum(staff)
        most = len(staff)
        if key in variables.agency:
            count = count + variables.agency[key]
            most += problem.agency_offer(line.skill).max_nurses_per_shift  # type: ignore[union-attr]
        if key in variables.extra_nurses:
            count = count + variables.extra_nurses[key]
            most += line.minimum_nurses
        if line.minimum_nurses > 0:
            guard = variables.enforcement(HardRule.COVER_MINIMUM, label)
            model.add(count >= line.minimum_nurses).only_enforce_if(guard)
        shortfall: cp_model.IntVar | None = None
        surplus: cp_model.IntVar | None = None
        if line.under_weight > 0 and line.required_nurses > 0:
            shortfall = model.new_int_var(0, line.required_nurses, f"shortfall[{label}]")
            variables.shortfall[key] = shortfall
            terms.append(PenaltyTerm(TERM_COVER_SHORTFALL, line.under_weight, shortfall))
        if line.over_weight > 0 and most > line.required_nurses:
            surplus = model.new_int_var(0, most - line.required_nurses, f"surplus[{label}]")
            terms.append(PenaltyTerm(TERM_COVER_SURPLUS, line.over_weight, surplus))
        if shortfall is not None and surplus is not None:
            model.add(count + shortfall - surplus == line.required_nurses)
            # Never short and over at once, so that every roster's objective is exact (not only the optimum).
            short = model.new_bool_var(f"short[{label}]")
            model.add(shortfall == 0).only_enforce_if(short.Not())
            model.add(surplus == 0).only_enforce_if(short)
        elif shortfall is not None:
            model.add(count + shortfall >= line.required_nurses)
        elif surplus is not None:
            model.add(count - surplus <= line.required_nurses)
    return terms


def add_agency_cost(
    model: cp_model.CpModel, variables: RosterVariables, problem: RosterProblem
) -> list[PenaltyTerm]:
    """Cost of the agency nurses booked."""
    terms = []
    for key, booked in sorted(variables.agency.items()):
        offer = problem.agency_offer(key[3])
        if offer is not None and offer.cost_per_shift > 0:
            terms.append(PenaltyTerm(TERM_AGENCY_COST, offer.cost_per_shift, booked))
    return terms


def add_shift_requests(
    model: cp_model.CpModel, variables: RosterVariables, problem: RosterProblem
) -> list[PenaltyTerm]:
    """Penalty ``weight`` for each shift-on request not granted and each shift-off request not granted."""
    terms = []
    for request in problem.requests:
        n = request.nurse_id
        if request.shift_id is None:
            worked: cp_model.IntVar = variables.works_day[(n, request.day)]
        else:
            worked = variables.works_shift[(n, request.day, request.shift_id)]
        if request.weight == 0:
            continue
        if request.wants_shift:
            terms.append(PenaltyTerm(TERM_SHIFT_ON_REQUESTS, request.weight, 1 - worked))
        else:
            terms.append(PenaltyTerm(TERM_SHIFT_OFF_REQUESTS, request.weight, worked))
    return terms


def _add_spread(
    model: cp_model.CpModel, counts: Sequence[cp_model.LinearExprT], top: int, label: str
) -> cp_model.IntVar:
    most = model.new_int_var(0, top, f"most_{label}")
    fewest = model.new_int_var(0, top, f"fewest_{label}")
    model.add_max_equality(most, counts)
    model.add_min_equality(fewest, counts)
    spread = model.new_int_var(0, top, f"spread_{label}")
    model.add(spread == most - fewest)
    return spread


def add_fairness(
    model: cp_model.CpModel, variables: RosterVariables, problem: RosterProblem
) -> list[PenaltyTerm]:
    """Penalise the spread (most minus fewest) of nights and of weekends worked across nurses."""
    terms = []
    fairness = problem.fairness
    night_ids = problem.night_shift_ids
    sharing_nights = problem.nurses_sharing_nights()
    if fairness.night_spread_weight > 0 and night_ids and len(sharing_nights) >= 2:
        counts = [
            sum(variables.works_shift[(n, d, s)] for d in range(problem.days) for s in night_ids)
            for n in sharing_nights
        ]
        spread = _add_spread(model, counts, problem.days, "nights")
        terms.append(PenaltyTerm(TERM_NIGHT_SPREAD, fairness.night_spread_weight, spread))
    weekends = problem.weekends()
    sharing_weekends = problem.nurses_sharing_weekends()
    if fairness.weekend_spread_weight > 0 and weekends and len(sharing_weekends) >= 2:
        counts = [
            sum(variables.weekend_worked[(n, w)] for w in range(len(weekends))) for n in sharing_weekends
        ]
        spread = _add_spread(model, counts, len(weekends), "weekends")
        terms.append(PenaltyTerm(TERM_WEEKEND_SPREAD, fairness.weekend_spread_weight, spread))
    return terms


WORKED, OFF, ON_LEAVE = 1, 0, 2
"""Labels of a day in the work-pattern automaton."""


def work_pattern_automaton(
    *, max_consecutive: int | None, min_consecutive: int, min_days_off: int, days: int
) -> tuple[int, list[int], list[tuple[int, int, int]]]:
    """The automaton reading a nurse's days (worked / off / leave) that accepts exactly the allowed patterns.

    States are work runs ``("work", length, exempt)`` and off runs ``("off", length, exempt, after_leave)``;
    lengths are capped where the rules stop caring. A work run is exempt from the minimum when it starts on
    day 0 or right after leave; it may also end early when leave follows. An off run is exempt from the
    minimum days off when it starts on day 0. Every state is final: runs at the end of the horizon are exempt.

    Returns
    -------
    (start_state, final_states, transitions)
    """
    longest = max_consecutive if max_consecutive is not None else days
    work_cap = min(longest, max(min_consecutive, 1), days) if max_consecutive is None else min(longest, days)
    off_cap = max(min_days_off, 1)
    states: dict[tuple[object, ...], int] = {("start",): 0}

    def state(*key: object) -> int:
        return states.setdefault(tuple(key), len(states))

    transitions: list[tuple[int, int, int]] = []

    def arc(tail: tuple[object, ...], label: int, head: tuple[object, ...]) -> None:
        transitions.append((state(*tail), label, state(*head)))

    here: tuple[object, ...]
    arc(("start",), WORKED, ("work", 1, True))
    arc(("start",), OFF, ("off", 1, True, False))
    arc(("start",), ON_LEAVE, ("off", 1, True, True))
    for length in range(1, work_cap + 1):
        for exempt in (False, True):
            here = ("work", length, exempt)
            if max_consecutive is None:
                arc(here, WORKED, ("work", min(length + 1, work_cap), exempt))
            elif length < max_consecutive:
                arc(here, WORKED, ("work", length + 1, exempt))
            if exempt or length >= min_consecutive:
                arc(here, OFF, ("off", 1, False, False))
            arc(here, ON_LEAVE, ("off", 1, False, True))
    for length in range(1, off_cap + 1):
        for exempt in (False, True):
            for after_leave in (False, True):
                here = ("off", length, exempt, after_leave)
                longer = min(length + 1, off_cap)
                arc(here, OFF, ("off", longer, exempt, False))
                arc(here, ON_LEAVE, ("off", longer, exempt, True))
                if exempt or length >= min_days_off:
                    arc(here, WORKED, ("work", 1, after_leave))
    used = sorted({t for t, _, _ in transitions} | {h for _, _, h in transitions})
    return 0, used, transitions


def add_work_pattern(
    model: cp_model.CpModel, variables: RosterVariables, problem: RosterProblem
) -> list[PenaltyTerm]:
    """Max and min consecutive shifts and min consecutive days off as one automaton per nurse.

    Equivalent to :func:`add_max_consecutive_shifts`, :func:`add_min_consecutive_shifts` and
    :func:`add_min_consecutive_days_off` together, but CP-SAT propagates and linearises it much better.
    It cannot be switched off by an assumption, so the explaining model (built with guards) skips it and
    relies on the three separate rules, which are always posted.
    """
    if variables.guards is not None or not variables.work_pattern_automaton:
        return []
    for nurse in problem.nurses:
        contract = nurse.contract
        if (
            contract.max_consecutive_shifts is None
            and contract.min_consecutive_shifts <= 1
            and contract.min_consecutive_days_off <= 1
        ):
            continue
        start, finals, transitions = work_pattern_automaton(
            max_consecutive=contract.max_consecutive_shifts,
            min_consecutive=contract.min_consecutive_shifts,
            min_days_off=contract.min_consecutive_days_off,
            days=problem.days,
        )
        n = nurse.nurse_id
        labels: list[cp_model.LinearExprT] = [
            ON_LEAVE if day in nurse.leave_days else variables.works_day[(n, day)]
            for day in range(problem.days)
        ]
        model.add_automaton(labels, start, finals, transitions)
    return []


RosterRule = Callable[[cp_model.CpModel, RosterVariables, RosterProblem], list[PenaltyTerm]]

ROSTER_RULES: tuple[RosterRule, ...] = (
    add_one_shift_per_day,
    add_days_off,
    add_max_shifts_per_type,
    add_total_minutes,
    add_max_consecutive_shifts,
    add_min_consecutive_shifts,
    add_min_consecutive_days_off,
    add_work_pattern,
    add_max_weekends,
    add_complete_weekends,
    add_shift_successions,
    add_cover,
    add_agency_cost,
    add_shift_requests,
    add_fairness,
)
"""The rules of a roster, in the order they are posted."""
