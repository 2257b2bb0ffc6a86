"""National Early Warning Score 2 (NEWS2), as charted by the Royal College of Physicians (2017).

Seven parameters each score 0-3; the total drives the clinical-risk band that we use as the patient's
acuity:

============================  ======  =========  =======  ======  =========  =========  ======
parameter                     3       2          1        0       1          2          3
============================  ======  =========  =======  ======  =========  =========  ======
respiration rate [/min]       ≤8                 9-11     12-20              21-24      ≥25
SpO2 scale 1 [%]              ≤91     92-93      94-95    ≥96
SpO2 scale 2 [%]              ≤83     84-85      86-87    88-92   93-94 O2   95-96 O2   ≥97 O2
                                                          ≥93 air
air or oxygen                         oxygen              air
systolic blood pressure       ≤90     91-100     101-110  111-219                       ≥220
[mmHg]
pulse [/min]                  ≤40                41-50    51-90   91-110     111-130    ≥131
consciousness                                             Alert                         CVPU
temperature [°C]              ≤35.0              35.1-36  36.1-38 38.1-39    ≥39.1
============================  ======  =========  =======  ======  =========  =========  ======

SpO2 scale 2 is only for patients with hypercapnic respiratory failure whose target saturation of
88-92% has been prescribed by a clinician; everyone else is scored on scale 1.

Clinical risk: aggregate 0-4 is *low*; a score of 3 in any single parameter (a "red score") with an
aggregate of 0-4 is *low-medium*; aggregate 5-6 is *medium*; aggregate 7 or more is *high*.

Values are first rounded to the chart's resolution, as a nurse would chart them: whole numbers for
respiration rate, SpO2, blood pressure and pulse (half rounds up), one decimal place for temperature.

This module also holds the vital-sign vocabulary shared by the feeds: the payload keys of an observation
event (:data:`VITAL_SIGN_KEYS`) and the LOINC / SNOMED CT codes that map to them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from typing import Any


class AcuityBand(StrEnum):
    """NEWS2 clinical-risk band, used as the patient's acuity."""

    LOW = "low"  # aggregate 0-4
    LOW_MEDIUM = "low_medium"  # a single parameter scoring 3, aggregate 0-4
    MEDIUM = "medium"  # aggregate 5-6
    HIGH = "high"  # aggregate 7 or more


class Consciousness(StrEnum):
    """ACVPU level of consciousness."""

    ALERT = "A"
    NEW_CONFUSION = "C"
    VOICE = "V"
    PAIN = "P"
    UNRESPONSIVE = "U"


VITAL_SIGN_KEYS: tuple[str, ...] = (
    "respiration_rate",
    "spo2",
    "on_oxygen",
    "temperature_c",
    "systolic_bp",
    "heart_rate",
    "consciousness",
)
"""Payload keys of a set of vital signs; all seven are needed for a NEWS2 score."""

SPO2_SCALE_KEY = "spo2_scale"
"""Optional payload key: ``2`` when a clinician has prescribed the 88-92% target (scale 2)."""

LOINC_SYSTEM = "http://loinc.org"
SNOMED_SYSTEM = "http://snomed.info/sct"

VITAL_SIGN_LOINC: dict[str, str] = {
    "9279-1": "respiration_rate",  # Respiratory rate
    "59408-5": "spo2",  # Oxygen saturation in arterial blood by pulse oximetry
    "2708-6": "spo2",  # Oxygen saturation in arterial blood
    "8310-5": "temperature_c",  # Body temperature
    "8480-6": "systolic_bp",  # Systolic blood pressure
    "8867-4": "heart_rate",  # Heart rate
    "67775-7": "consciousness",  # Level of responsiveness (ACVPU / AVPU answers)
    "3150-0": "on_oxygen",  # Inhaled oxygen concentration [%]: above 21% means supplemental oxygen
    "3151-8": "on_oxygen",  # Inhaled oxygen flow rate [L/min]: above 0 means supplemental oxygen
}
"""LOINC observation codes of the NEWS2 parameters, by payload key."""

VITAL_SIGN_SNOMED: dict[str, str] = {
    "86290005": "respiration_rate",  # Respiratory rate (observable entity)
    "431314004": "spo2",  # Peripheral oxygen saturation (observable entity)
    "276885007": "temperature_c",  # Core body temperature (observable entity)
    "271649006": "systolic_bp",  # Systolic blood pressure (observable entity)
    "364075005": "heart_rate",  # Heart rate (observable entity)
    "1104441000000107": "consciousness",  # ACVPU scale score (UK)
}
"""SNOMED CT observable-entity codes of the NEWS2 parameters, by payload key."""

CONSCIOUSNESS_ANSWER_CODES: dict[str, Consciousness] = {
    "248234008": Consciousness.ALERT,  # Mentally alert (finding)
    "130987000": Consciousness.NEW_CONFUSION,  # Acute confusion (finding)
    "300202002": Consciousness.VOICE,  # Responds to voice (finding)
    "450847001": Consciousness.PAIN,  # Responds to pain (finding)
    "422768004": Consciousness.UNRESPONSIVE,  # Unresponsive (finding)
}
"""SNOMED CT findings of the UK ACVPU value set."""

OXYGEN_FINDING_CODES: dict[str, bool] = {
    "722742002": False,  # Breathing room air (finding)
    "371825009": True,  # Patient on oxygen (finding)
    "315041000": True,  # High concentration oxygen therapy (procedure)
}
"""SNOMED CT codes answering "air or oxygen?", mapped to ``on_oxygen``."""

_CONSCIOUSNESS_WORDS: dict[str, Consciousness] = {
    "a": Consciousness.ALERT,
    "alert": Consciousness.ALERT,
    "c": Consciousness.NEW_CONFUSION,
    "confusion": Consciousness.NEW_CONFUSION,
    "new confusion": Consciousness.NEW_CONFUSION,
    "confused": Consciousness.NEW_CONFUSION,
    "v": Consciousness.VOICE,
    "voice": Consciousness.VOICE,
    "p": Consciousness.PAIN,
    "pain": Consciousness.PAIN,
    "u": Consciousness.UNRESPONSIVE,
    "unresponsive": Consciousness.UNRESPONSIVE,
}

_PLAUSIBLE_RANGES: dict[str, tuple[float, float]] = {
    # Wide physiological limits: they catch unit mistakes (98.6 charted as °C), not clinical extremes.
    "respiration_rate": (0, 100),
    "spo2": (0, 100),
    "temperature_c": (10, 46),
    "systolic_bp": (0, 350),
    "heart_rate": (0, 350),
}


def consciousness_from_answer(answer: str) -> Consciousness | None:
    """Read an ACVPU answer given as a letter, a word or a SNOMED CT finding code.

    Parameters
    ----------
    answer
        ``"A"``, ``"alert"``, ``"New confusion"``, ``"248234008"``...

    Returns
    -------
    Consciousness or None
        ``None`` when the answer is not recognised.

    Examples
    --------
    >>> consciousness_from_answer("voice")
    <Consciousness.VOICE: 'V'>
    """
    text = answer.strip()
    if text in CONSCIOUSNESS_ANSWER_CODES:
        return CONSCIOUSNESS_ANSWER_CODES[text]
    return _CONSCIOUSNESS_WORDS.get(text.lower())


def _chart_value(key: str, value: Any, places: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValueError(f"{key}: expected a number, got {value!r}")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{key}: expected a number, got {value!r}") from None
    if not number.is_finite():
        raise ValueError(f"{key}: expected a finite number, got {value!r}")
    low, high = _PLAUSIBLE_RANGES[key]
    if not low <= number <= high:
        raise ValueError(f"{key}: {value} is outside the plausible range {low}-{high}")
    return number.quantize(Decimal(places), rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class VitalSigns:
    """One complete set of NEWS2 observations.

    Attributes
    ----------
    respiration_rate
        Breaths per minute.
    spo2
        Peripheral oxygen saturation [%].
    on_oxygen
        Whether the patient is on supplemental oxygen.
    temperature_c
        Body temperature [°C].
    systolic_bp
        Systolic blood pressure [mmHg].
    heart_rate
        Pulse [beats per minute].
    consciousness
        ACVPU level.
    spo2_scale
        1, or 2 for hypercapnic respiratory failure with a prescribed 88-92% target.
    """

    respiration_rate: float
    spo2: float
    on_oxygen: bool
    temperature_c: float
    systolic_bp: float
    heart_rate: float
    consciousness: Consciousness
    spo2_scale: int = 1

    def __post_init__(self) -> None:
        for key in ("respiration_rate", "spo2", "temperature_c", "systolic_bp", "heart_rate"):
            _chart_value(key, getattr(self, key), "1")
        if not isinstance(self.on_oxygen, bool):
            raise ValueError(f"on_oxygen: expected true or false, got {self.on_oxygen!r}")
        if not isinstance(self.consciousness, Consciousness):
            answer = consciousness_from_answer(str(self.consciousness))
            if answer is None:
                raise ValueError(f"consciousness: expected one of A, C, V, P, U, got {self.consciousness!r}")
            object.__setattr__(self, "consciousness", answer)
        if self.spo2_scale not in (1, 2):
            raise ValueError(f"spo2_scale: expected 1 or 2, got {self.spo2_scale!r}")

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any], *, spo2_scale: int | None = None) -> VitalSigns:
        """Build a set from an observation payload with the keys of :data:`VITAL_SIGN_KEYS`.

        Parameters
        ----------
        payload
            Event payload, e.g. ``{"respiration_rate": 18, "spo2": 96, ...}``.
        spo2_scale
            Overrides the payload's ``spo2_scale`` (default 1).

        Raises
        ------
        ValueError
            Naming the first missing or invalid key.
        """
        missing = [key for key in VITAL_SIGN_KEYS if payload.get(key) is None]
        if missing:
            raise ValueError(f"{missing[0]}: missing (NEWS2 needs all of {', '.join(VITAL_SIGN_KEYS)})")
        scale = spo2_scale if spo2_scale is not None else int(payload.get(SPO2_SCALE_KEY) or 1)
        return cls(
            respiration_rate=payload["respiration_rate"],
            spo2=payload["spo2"],
            on_oxygen=payload["on_oxygen"],
            temperature_c=payload["temperature_c"],
            systolic_bp=payload["systolic_bp"],
            heart_rate=payload["heart_rate"],
            consciousness=payload["consciousness"],
            spo2_scale=scale,
        )


def respiration_rate_score(respiration_rate: float) -> int:
    """NEWS2 score of a respiration rate [breaths/min]: ≤8 → 3, 9-11 → 1, 12-20 → 0, 21-24 → 2, ≥25 → 3."""
    rate = _chart_value("respiration_rate", respiration_rate, "1")
    if rate <= 8:
        return 3
    if rate <= 11:
        return 1
    if rate <= 20:
        return 0
    if rate <= 24:
        return 2
    return 3


def spo2_score(spo2: float, *, on_oxygen: bool, scale: int = 1) -> int:
    """NEWS2 score of an oxygen saturation [%] on scale 1 or scale 2.

    Parameters
    ----------
    spo2
        Peripheral oxygen saturation [%].
    on_oxygen
        Supplemental oxygen; matters only on scale 2, where a high saturation on oxygen scores.
    scale
        1 (default) or 2 (hypercapnic respiratory failure, prescribed target 88-92%).

    Returns
    -------
    int
        Scale 1: ≤91 → 3, 92-93 → 2, 94-95 → 1, ≥96 → 0.
        Scale 2: ≤83 → 3, 84-85 → 2, 86-87 → 1, 88-92 or ≥93 on air → 0,
        93-94 on oxygen → 1, 95-96 on oxygen → 2, ≥97 on oxygen → 3.
    """
    saturation = _chart_value("spo2", spo2, "1")
    if scale == 1:
        if saturation <= 91:
            return 3
        if saturation <= 93:
            return 2
        if saturation <= 95:
            return 1
        return 0
    if scale != 2:
        raise ValueError(f"spo2_scale: expected 1 or 2, got {scale!r}")
    if saturation <= 83:
        return 3
    if saturation <= 85:
        return 2
    if saturation <= 87:
        return 1
    if saturation <= 92 or not on_oxygen:
        return 0
    if saturation <= 94:
        return 1
    if saturation <= 96:
        return 2
    return 3


def air_or_oxygen_score(on_oxygen: bool) -> int:
    """NEWS2 score of the inspired gas: supplemental oxygen → 2, air → 0."""
    return 2 if on_oxygen else 0


def systolic_bp_score(systolic_bp: float) -> int:
    """NEWS2 score of a systolic blood pressure [mmHg].

    ≤90 → 3, 91-100 → 2, 101-110 → 1, 111-219 → 0, ≥220 → 3.
    """
    pressure = _chart_value("systolic_bp", systolic_bp, "1")
    if pressure <= 90:
        return 3
    if pressure <= 100:
        return 2
    if pressure <= 110:
        return 1
    if pressure <= 219:
        return 0
    return 3


def heart_rate_score(heart_rate: float) -> int:
    """NEWS2 score of a pulse [beats/min].

    ≤40 → 3, 41-50 → 1, 51-90 → 0, 91-110 → 1, 111-130 → 2, ≥131 → 3.
    """
    pulse = _chart_value("heart_rate", heart_rate, "1")
    if pulse <= 40:
        return 3
    if pulse <= 50:
        return 1
    if pulse <= 90:
        return 0
    if pulse <= 110:
        return 1
    if pulse <= 130:
        return 2
    return 3


def consciousness_score(consciousness: Consciousness | str) -> int:
    """NEWS2 score of the ACVPU level: Alert → 0; new confusion, voice, pain or unresponsive → 3."""
    level = (
        consciousness
        if isinstance(consciousness, Consciousness)
        else consciousness_from_answer(str(consciousness))
    )
    if level is None:
        raise ValueError(f"consciousness: expected one of A, C, V, P, U, got {consciousness!r}")
    return 0 if level is Consciousness.ALERT else 3


def temperature_score(temperature_c: float) -> int:
    """NEWS2 score of a body temperature [°C], charted to 0.1 °C.

    ≤35.0 → 3, 35.1-36.0 → 1, 36.1-38.0 → 0, 38.1-39.0 → 1, ≥39.1 → 2.
    """
    temperature = _chart_value("temperature_c", temperature_c, "0.1")
    if temperature <= Decimal("35.0"):
        return 3
    if temperature <= Decimal("36.0"):
        return 1
    if temperature <= Decimal("38.0"):
        return 0
    if temperature <= Decimal("39.0"):
        return 1
    return 2


def acuity_band(total: int, *, red_score: bool) -> AcuityBand:
    """Clinical-risk band of a NEWS2 aggregate.

    Parameters
    ----------
    total
        Aggregate NEWS2 score (0-20).
    red_score
        Whether any single parameter scored 3.

    Returns
    -------
    AcuityBand
        ``high`` for 7 or more, ``medium`` for 5-6, ``low_medium`` for 0-4 with a red score,
        ``low`` otherwise.

    Examples
    --------
    >>> acuity_band(3, red_score=True)
    <AcuityBand.LOW_MEDIUM: 'low_medium'>
    """
    if not 0 <= total <= 20:
        raise ValueError(f"NEWS2 aggregate must be 0-20, got {total}")
    if total >= 7:
        return AcuityBand.HIGH
    if total >= 5:
        return AcuityBand.MEDIUM
    if red_score:
        return AcuityBand.LOW_MEDIUM
    return AcuityBand.LOW


@dataclass(frozen=True, slots=True)
class NEWS2Score:
    """A NEWS2 aggregate with its seven parameter scores.

    Attributes
    ----------
    respiration_rate, spo2, air_or_oxygen, systolic_bp, heart_rate, consciousness, temperature
        Parameter scores (0-3).
    spo2_scale
        The SpO2 scale used (1 or 2).
    """

    respiration_rate: int
    spo2: int
    air_or_oxygen: int
    systolic_bp: int
    heart_rate: int
    consciousness: int
    temperature: int
    spo2_scale: int = 1

    @property
    def parameter_scores(self) -> dict[str, int]:
        """The seven parameter scores by name."""
        return {
            "respiration_rate": self.respiration_rate,
            "spo2": self.spo2,
            "air_or_oxygen": self.air_or_oxygen,
            "systolic_bp": self.systolic_bp,
            "heart_rate": self.heart_rate,
            "consciousness": self.consciousness,
            "temperature": self.temperature,
        }

    @property
    def total(self) -> int:
        """Aggregate score (0-20)."""
        return sum(self.parameter_scores.values())

    @property
    def red_score(self) -> bool:
        """Whether any single parameter scored 3."""
        return any(score == 3 for score in self.parameter_scores.values())

    @property
    def band(self) -> AcuityBand:
        """Clinical-risk band (see :func:`acuity_band`)."""
        return acuity_band(self.total, red_score=self.red_score)


def news2_score(vitals: VitalSigns) -> NEWS2Score:
    """Score a complete set of vital signs.

    Parameters
    ----------
    vitals
        The seven NEWS2 parameters and the SpO2 scale.

    Returns
    -------
    NEWS2Score
        Parameter scores, aggregate (``.total``) and band (``.band``).

    Examples
    --------
    >>> vitals = VitalSigns(
    ...     respiration_rate=22, spo2=95, on_oxygen=False, temperature_c=38.4,
    ...     systolic_bp=105, heart_rate=115, consciousness=Consciousness.ALERT,
    ... )
    >>> score = news2_score(vitals)
    >>> score.total, score.band.value
    (7, 'high')
    """
    return NEWS2Score(
        respiration_rate=respiration_rate_score(vitals.respiration_rate),
        spo2=spo2_score(vitals.spo2, on_oxygen=vitals.on_oxygen, scale=vitals.spo2_scale),
        air_or_oxygen=air_or_oxygen_score(vitals.on_oxygen),
        systolic_bp=systolic_bp_score(vitals.systolic_bp),
        heart_rate=heart_rate_score(vitals.heart_rate),
        consciousness=consciousness_score(vitals.consciousness),
        temperature=temperature_score(vitals.temperature_c),
        spo2_scale=vitals.spo2_scale,
    )
