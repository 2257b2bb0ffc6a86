"""``POST /fhir`` fuzzed with Hypothesis: real bundles bent out of shape, sent to the service in-process.

Each example starts from a valid bundle (an admission with its patient, ward, bed and vital signs; a
transfer; a discharge; an observation panel) and changes one to three of its elements: a value replaced by
an extreme or odd one (moments far in the past or future with extreme offsets, leap seconds, dates alone,
huge and tiny numbers, booleans, lists, objects, codes from other value sets, PHI-shaped text) or an
element removed. Whatever comes in, the service answers 200, 400 or 422, never a server error; an error is
a FHIR OperationOutcome naming the element (an entry's element when the change was inside an entry) and
never repeating the value sent; after an accepted bundle the census and the twins can still be read.

``HOSPITAL_TWIN_FUZZ_EXAMPLES`` sets the number of bundles (default 150).
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ops.store import Store, open_store
from ops.store.tokens import create_token
from tests.ui.test_api_support import admission_bundle, bearer
from ui.api import ApiSettings, create_app

EXAMPLES = int(os.environ.get("HOSPITAL_TWIN_FUZZ_EXAMPLES", "150"))

FAMILY, GIVEN, MRN, VISIT, BIRTH_DATE = "Zebulonsky", "Philomena", "MRN4471902", "VN88213377", "1931-07-29"
PHI = (FAMILY, GIVEN, MRN, VISIT, BIRTH_DATE)

EXPRESSION = re.compile(r"^Bundle(\.entry\[(?P<entry>\d+)\](\.[A-Za-z_\[\]0-9.]+)?|\.[A-Za-z_\[\]0-9.]+)?$")


def _templates() -> list[dict[str, Any]]:
    """Valid bundles to start from."""
    admission = admission_bundle(mrn=MRN, family=FAMILY, given=GIVEN, birth_date=BIRTH_DATE, visit=VISIT)
    transaction = admission_bundle(mrn=MRN, visit=VISIT + "T", bundle_type="transaction", unit="ICU")
    discharge = admission_bundle(mrn=MRN, visit=VISIT + "D", respiratory_rate=None)
    encounter = discharge["entry"][3]["resource"]
    encounter["status"] = "finished"
    encounter["meta"] = {"lastUpdated": "2024-03-04T10:00:00+01:00"}
    encounter["period"]["end"] = "2024-03-04T10:00:00Z"
    transfer = admission_bundle(mrn=MRN, visit=VISIT + "X", unit="AMU")
    moved = transfer["entry"][3]["resource"]
    moved["location"] = [
        {**moved["location"][0], "status": "completed", "period": {"start": "2024-03-01T08:20:00Z"}},
        {
            "location": {"reference": "Location/WARD7"},
            "status": "active",
            "period": {"start": "2024-03-02T11:00:00-05:00"},
        },
    ]
    panel = admission_bundle(mrn=MRN, visit=VISIT + "P")
    observation = panel["entry"][4]["resource"]
    observation["code"] = {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]}
    observation.pop("valueQuantity")
    observation["component"] = [
        {
            "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
            "valueQuantity": {"value": 128, "unit": "mm[Hg]"},
        },
        {
            "code": {"coding": [{"system": "http://loinc.org", "code": "8310-5"}]},
            "valueQuantity": {"value": 99.1, "code": "[degF]"},
        },
    ]
    return [admission, transaction, discharge, transfer, panel]


TEMPLATES = _templates()

ODD_MOMENT_TEXTS = st.sampled_from(
    [
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59-14:00",
        "9999-12-31T23:59:59.999999Z",
        "2024-03-01T23:59:60Z",
        "2024-02-30T10:00:00Z",
        "2024-03-01T24:00:00Z",
        "2024-03-01T10:00:00",
        "2024-03-01",
        "2024-03",
        "2024",
        "2024-03-01T10:00:00.123456789+05:45",
        "",
    ]
)


@st.composite
def extreme_moments(draw: st.DrawFn) -> str:
    """FHIR dateTime text near the ends of years 1-9999, with offsets up to ±14:00."""
    year = draw(st.one_of(st.sampled_from([1, 9999]), st.integers(min_value=1, max_value=9999)))
    month = draw(st.sampled_from([1, 12]) if year in (1, 9999) else st.integers(min_value=1, max_value=12))
    day = 1 if month == 1 else 31
    hour, minute = (0, 0) if month == 1 else (23, 59)
    offset = draw(st.sampled_from(["+14:00", "-14:00", "Z", "+05:45", "-09:30"]))
    return f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:00{offset}"


ODD_MOMENTS = st.one_of(extreme_moments(), ODD_MOMENT_TEXTS)
ODD_CODES = st.sampled_from(
    ["IMP", "EMER", "AMB", "in-progress", "finished", "arrived", "onleave", "cancelled", "planned",
     "entered-in-error", "unknown", "bd", "ro", "wa", "9279-1", "8867-4", "59408-5", "[degF]", "%", "VN"]
)  # fmt: skip
ODD_NUMBERS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, -1, 1e30, 1e-30, 10**40, 2**63]),
)
ODD_TEXT = st.one_of(
    st.sampled_from([FAMILY, f"{FAMILY} {GIVEN}", MRN, VISIT, BIRTH_DATE, "Patient/", "Location/nowhere"]),
    st.text(max_size=12),
)
ODD_VALUES = st.one_of(
    ODD_MOMENTS,
    ODD_CODES,
    ODD_NUMBERS,
    ODD_TEXT,
    st.none(),
    st.booleans(),
    st.lists(st.one_of(st.integers(), st.text(max_size=4)), max_size=2),
    st.dictionaries(st.sampled_from(["value", "code", "reference", "start"]), ODD_TEXT, max_size=2),
)
DELETE = object()


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every element of a JSON document, by its keys and indexes."""
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


def _apply(document: Any, path: tuple[Any, ...], value: Any) -> bool:
    """Set (or delete) the element at ``path``; False when the path no longer exists."""
    node = document
    for part in path[:-1]:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return False
    last = path[-1]
    if (isinstance(node, dict) and last in node) or (
        isinstance(node, list) and isinstance(last, int) and last < len(node)
    ):
        if value is DELETE:
            del node[last]
        else:
            node[last] = value
        return True
    return False


MOMENT_LIKE = re.compile(r"^\d{4}-\d{2}-\d{2}")
CODE_KEYS = frozenset({"code", "status", "system", "unit"})


def _at(document: Any, path: tuple[Any, ...]) -> Any:
    node = document
    for part in path:
        node = node[part]
    return node


MUTATIONS = ("moment", "code", "number", "leaf", "delete")


@st.composite
def bent_bundles(draw: st.DrawFn) -> tuple[dict[str, Any], list[tuple[tuple[Any, ...], Any]]]:
    """A template bundle with one to three elements changed, and the changes made.

    Each change is of one kind: a moment made extreme or odd, a code swapped, a number made extreme, any
    element given any odd value, or an element removed.
    """
    document = copy.deepcopy(draw(st.sampled_from(TEMPLATES)))
    changes = []
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = _paths(document)
        leaves = [path for path in paths if not isinstance(_at(document, path), dict | list)]
        kinds = {
            "moment": [
                p for p in leaves if isinstance(_at(document, p), str) and MOMENT_LIKE.match(_at(document, p))
            ],
            "code": [p for p in leaves if p[-1] in CODE_KEYS],
            "number": [p for p in leaves if type(_at(document, p)) in (int, float)],
            "leaf": leaves,
            "delete": [p for p in paths if p[0] == "entry"],
        }
        kind = draw(st.sampled_from([name for name in MUTATIONS if kinds[name]]))
        path = draw(st.sampled_from(kinds[kind]))
        value: Any = {
            "moment": ODD_MOMENTS,
            "code": st.one_of(ODD_CODES, ODD_TEXT),
            "number": ODD_NUMBERS,
            "leaf": ODD_VALUES,
            "delete": st.just(DELETE),
        }[kind]
        value = draw(value)
        if _apply(document, path, value):
            changes.append((path, value))
    return document, changes


@pytest.fixture(scope="module")
def service() -> Iterator[tuple[TestClient, dict[str, str], Store]]:
    folder = Path(tempfile.mkdtemp(prefix="hospital-twin-fhir-fuzz-"))
    store = open_store(f"sqlite:///{folder / 'fuzz.db'}", results_dir=folder / "results")
    feed = bearer(create_token(store, name="fuzz-feed", role="feed")[0])
    reader = bearer(create_token(store, name="fuzz-reader", role="planner")[0])
    app = create_app(ApiSettings(twins_cache_seconds=0.0, answer_cache_seconds=0.0), store=store)
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            yield client, {"feed": feed["Authorization"], "reader": reader["Authorization"]}, store
    finally:
        store.close()
        shutil.rmtree(folder, ignore_errors=True)


def test_the_templates_are_accepted(service: tuple[TestClient, dict[str, str], Store]) -> None:
    client, headers, _ = service
    for template in TEMPLATES:
        answer = client.post("/fhir", json=template, headers={"Authorization": headers["feed"]})
        assert answer.status_code == 200, answer.text


def test_bent_bundles_never_break_the_service(service: tuple[TestClient, dict[str, str], Store]) -> None:
    client, headers, store = service
    feed, reader = {"Authorization": headers["feed"]}, {"Authorization": headers["reader"]}
    seen: dict[int, int] = {}

    @given(bent_bundles())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def check(example: tuple[dict[str, Any], list[tuple[tuple[Any, ...], Any]]]) -> None:
        document, changes = example
        answer = client.post("/fhir", json=document, headers=feed)
        seen[answer.status_code] = seen.get(answer.status_code, 0) + 1
        assert answer.status_code in (200, 400, 422), (answer.status_code, answer.text, changes)
        body = answer.json()
        if answer.status_code == 200:
            assert body["resourceType"] == "Bundle" and len(body["entry"]) == len(document.get("entry", []))
            for path in ("/census/now", "/twins"):
                after = client.get(path, headers=reader)
                assert after.status_code in (200, 409), (path, after.text, changes)
            return
        assert body["resourceType"] == "OperationOutcome" and body["issue"], body
        entries = document.get("entry") if isinstance(document.get("entry"), list) else []
        inside_an_entry = all(
            len(path) >= 3 and path[0] == "entry" and path[2] == "resource" for path, _ in changes
        )
        for issue in body["issue"]:
            (expression,) = issue["expression"]
            matched = EXPRESSION.match(expression)
            assert matched, expression
            if matched.group("entry") is not None:
                assert int(matched.group("entry")) < len(entries), (expression, changes)
            if inside_an_entry and answer.status_code == 422:
                assert matched.group("entry") is not None, (expression, changes)
            for _, value in changes:
                if isinstance(value, str) and len(value) >= 4 and not value.isdigit():
                    assert value not in issue["diagnostics"], (issue, changes)
        for value in PHI:
            assert value not in answer.text

    check()
    assert seen.get(200, 0) > 0 and seen.get(422, 0) > 0, seen  # the fuzzing reached both answers
    assert store.count_events() > 0
