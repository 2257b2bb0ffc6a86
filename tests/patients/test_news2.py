"""NEWS2 against the Royal College of Physicians 2017 chart: every band edge, both sides."""

from __future__ import annotations

import pytest

from patients.news2 import (
    AcuityBand,
    Consciousness,
    NEWS2Score,
    VitalSigns,
    acuity_band,
    air_or_oxygen_score,
    consciousness_from_answer,
    consciousness_score,
    heart_rate_score,
    news2_score,
    respiration_rate_score,
    spo2_score,
    systolic_bp_score,
    temperature_score,
)

NORMAL = {
    "respiration_rate": 16,
    "spo2": 97,
    "on_oxygen": False,
    "temperature_c": 37.0,
    "systolic_bp": 125,
    "heart_rate": 72,
    "consciousness": "A",
}


@pytest.mark.parametrize(
    ("rate", "score"),
    [(0, 3), (8, 3), (9, 1), (11, 1), (12, 0), (20, 0), (21, 2), (24, 2), (25, 3), (60, 3)],
)
def test_respiration_rate_band_edges(rate: int, score: int) -> None:
    assert respiration_rate_score(rate) == score


@pytest.mark.parametrize(
    ("spo2", "score"),
    [(70, 3), (91, 3), (92, 2), (93, 2), (94, 1), (95, 1), (96, 0), (100, 0)],
)
@pytest.mark.parametrize("on_oxygen", [False, True])
def test_spo2_scale_1_band_edges_ignore_oxygen(spo2: int, score: int, on_oxygen: bool) -> None:
    assert spo2_score(spo2, on_oxygen=on_oxygen, scale=1) == score


@pytest.mark.parametrize(
    ("spo2", "score"),
    [(70, 3), (83, 3), (84, 2), (85, 2), (86, 1), (87, 1), (88, 0), (92, 0)],
)
@pytest.mark.parametrize("on_oxygen", [False, True])
def test_spo2_scale_2_low_band_edges_same_on_air_and_oxygen(spo2: int, score: int, on_oxygen: bool) -> None:
    assert spo2_score(spo2, on_oxygen=on_oxygen, scale=2) == score


@pytest.mark.parametrize(
    ("spo2", "on_oxygen", "score"),
    [
        (93, False, 0),
        (97, False, 0),
        (100, False, 0),
        (93, True, 1),
        (94, True, 1),
        (95, True, 2),
        (96, True, 2),
        (97, True, 3),
        (100, True, 3),
    ],
)
def test_spo2_scale_2_high_saturation_scores_only_on_oxygen(spo2: int, on_oxygen: bool, score: int) -> None:
    assert spo2_score(spo2, on_oxygen=on_oxygen, scale=2) == score


def test_spo2_unknown_scale_is_rejected() -> None:
    with pytest.raises(ValueError, match="spo2_scale"):
        spo2_score(95, on_oxygen=False, scale=3)


@pytest.mark.parametrize(("on_oxygen", "score"), [(False, 0), (True, 2)])
def test_air_or_oxygen(on_oxygen: bool, score: int) -> None:
    assert air_or_oxygen_score(on_oxygen) == score


@pytest.mark.parametrize(
    ("pressure", "score"),
    [(60, 3), (90, 3), (91, 2), (100, 2), (101, 1), (110, 1), (111, 0), (219, 0), (220, 3), (260, 3)],
)
def test_systolic_bp_band_edges(pressure: int, score: int) -> None:
    assert systolic_bp_score(pressure) == score


@pytest.mark.parametrize(
    ("pulse", "score"),
    [(30, 3), (40, 3), (41, 1), (50, 1), (51, 0), (90, 0), (91, 1), (110, 1), (111, 2), (130, 2), (131, 3)],
)
def test_heart_rate_band_edges(pulse: int, score: int) -> None:
    assert heart_rate_score(pulse) == score


@pytest.mark.parametrize(
    ("level", "score"),
    [
        (Consciousness.ALERT, 0),
        (Consciousness.NEW_CONFUSION, 3),
        (Consciousness.VOICE, 3),
        (Consciousness.PAIN, 3),
        (Consciousness.UNRESPONSIVE, 3),
        ("A", 0),
        ("u", 3),
    ],
)
def test_consciousness(level: Consciousness | str, score: int) -> None:
    assert consciousness_score(level) == score


def test_consciousness_unknown_answer_is_rejected() -> None:
    with pytest.raises(ValueError, match="consciousness"):
        consciousness_score("drowsy")


@pytest.mark.parametrize(
    ("temperature", "score"),
    [
        (33.0, 3),
        (35.0, 3),
        (35.1, 1),
        (36.0, 1),
        (36.1, 0),
        (38.0, 0),
        (38.1, 1),
        (39.0, 1),
        (39.1, 2),
        (41.0, 2),
    ],
)
def test_temperature_band_edges(temperature: float, score: int) -> None:
    assert temperature_score(temperature) == score


@pytest.mark.parametrize(
    ("function", "value", "score"),
    [
        # Charted resolution: whole numbers (half rounds up) and 0.1 °C.
        (respiration_rate_score, 20.4, 0),
        (respiration_rate_score, 20.5, 2),
        (spo2_score, 95.5, 0),
        (systolic_bp_score, 110.49, 1),
        (systolic_bp_score, 110.5, 0),
        (heart_rate_score, 90.5, 1),
        (temperature_score, 35.04, 3),
        (temperature_score, 35.05, 1),
        (temperature_score, 38.05, 1),
    ],
)
def test_values_are_rounded_to_chart_resolution_first(function: object, value: float, score: int) -> None:
    if function is spo2_score:
        assert spo2_score(value, on_oxygen=False) == score
    else:
        assert function(value) == score  # type: ignore[operator]


@pytest.mark.parametrize(
    ("total", "red_score", "band"),
    [
        (0, False, AcuityBand.LOW),
        (4, False, AcuityBand.LOW),
        (3, True, AcuityBand.LOW_MEDIUM),
        (4, True, AcuityBand.LOW_MEDIUM),
        (5, False, AcuityBand.MEDIUM),
        (5, True, AcuityBand.MEDIUM),
        (6, True, AcuityBand.MEDIUM),
        (7, False, AcuityBand.HIGH),
        (7, True, AcuityBand.HIGH),
        (20, True, AcuityBand.HIGH),
    ],
)
def test_clinical_risk_band_edges(total: int, red_score: bool, band: AcuityBand) -> None:
    assert acuity_band(total, red_score=red_score) is band


@pytest.mark.parametrize("total", [-1, 21])
def test_clinical_risk_band_rejects_impossible_totals(total: int) -> None:
    with pytest.raises(ValueError, match="0-20"):
        acuity_band(total, red_score=False)


def test_all_normal_vitals_score_zero_and_low() -> None:
    score = news2_score(VitalSigns.from_payload(NORMAL))
    assert score == NEWS2Score(0, 0, 0, 0, 0, 0, 0, spo2_scale=1)
    assert (score.total, score.red_score, score.band) == (0, False, AcuityBand.LOW)


def test_mixed_vitals_score_each_parameter() -> None:
    vitals = VitalSigns(
        respiration_rate=22,
        spo2=95,
        on_oxygen=False,
        temperature_c=38.4,
        systolic_bp=105,
        heart_rate=115,
        consciousness=Consciousness.ALERT,
    )
    score = news2_score(vitals)
    assert score.parameter_scores == {
        "respiration_rate": 2,
        "spo2": 1,
        "air_or_oxygen": 0,
        "systolic_bp": 1,
        "heart_rate": 2,
        "consciousness": 0,
        "temperature": 1,
    }
    assert (score.total, score.band) == (7, AcuityBand.HIGH)


def test_single_red_score_is_low_medium() -> None:
    score = news2_score(VitalSigns.from_payload({**NORMAL, "consciousness": "V"}))
    assert (score.total, score.red_score, score.band) == (3, True, AcuityBand.LOW_MEDIUM)


def test_scale_2_on_oxygen_over_target_scores_saturation() -> None:
    payload = {**NORMAL, "spo2": 97, "on_oxygen": True, "spo2_scale": 2}
    score = news2_score(VitalSigns.from_payload(payload))
    assert (score.spo2, score.air_or_oxygen, score.total, score.band) == (3, 2, 5, AcuityBand.MEDIUM)
    scale_1 = news2_score(VitalSigns.from_payload(payload, spo2_scale=1))
    assert (scale_1.spo2, scale_1.total, scale_1.band) == (0, 2, AcuityBand.LOW)


def test_missing_parameter_is_named() -> None:
    payload = {key: value for key, value in NORMAL.items() if key != "systolic_bp"}
    with pytest.raises(ValueError, match=r"^systolic_bp: missing"):
        VitalSigns.from_payload(payload)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("spo2", 101, r"^spo2: 101 is outside"),
        ("temperature_c", 98.6, r"^temperature_c: 98.6 is outside"),  # Fahrenheit charted as Celsius
        ("heart_rate", "fast", r"^heart_rate: expected a number"),
        ("respiration_rate", True, r"^respiration_rate: expected a number"),
        ("on_oxygen", "yes", r"^on_oxygen: expected true or false"),
        ("consciousness", "drowsy", r"^consciousness: expected one of"),
    ],
)
def test_invalid_parameter_is_named(key: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        VitalSigns.from_payload({**NORMAL, key: value})


@pytest.mark.parametrize(
    ("answer", "level"),
    [
        ("A", Consciousness.ALERT),
        ("alert", Consciousness.ALERT),
        ("New confusion", Consciousness.NEW_CONFUSION),
        ("V", Consciousness.VOICE),
        ("Pain", Consciousness.PAIN),
        ("unresponsive", Consciousness.UNRESPONSIVE),
        ("248234008", Consciousness.ALERT),
        ("130987000", Consciousness.NEW_CONFUSION),
        ("300202002", Consciousness.VOICE),
        ("450847001", Consciousness.PAIN),
        ("422768004", Consciousness.UNRESPONSIVE),
        ("sleepy", None),
    ],
)
def test_consciousness_answers(answer: str, level: Consciousness | None) -> None:
    assert consciousness_from_answer(answer) is level
