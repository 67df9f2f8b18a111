"""``_sort`` and its paging over HTTP on the example scenario, on every store.

https://hl7.org/fhir/R4/search.html#sort: several keys, ``-`` for descending; next links
carry an opaque ``_cursor`` (keyset position plus a watermark), so walking the pages lists
every match once even while resources change.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MILLISECOND = timedelta(milliseconds=1)
BASE = "http://test/fhir"
JSON = {"Content-Type": "application/fhir+json"}


async def resources(client: httpx.AsyncClient, url: str, **params: str) -> list[dict[str, Any]]:
    response = await client.get(url, params=params)
    assert response.status_code == 200, response.text
    return [e["resource"] for e in response.json().get("entry", [])]


async def walk(client: httpx.AsyncClient, url: str, between: Any = None) -> list[str]:
    """Every page's ids, following next links; ``between`` runs after each page."""
    seen: list[str] = []
    next_url: str | None = url
    while next_url:
        response = await client.get(next_url)
        assert response.status_code == 200, response.text
        bundle = response.json()
        seen += [e["resource"]["id"] for e in bundle.get("entry", [])]
        links = [link["url"] for link in bundle["link"] if link["relation"] == "next"]
        next_url = links[0].replace(BASE, "") if links else None
        if next_url and between is not None:
            await between()
    return seen


def millis(resource: dict[str, Any]) -> int:
    return (datetime.fromisoformat(resource["meta"]["lastUpdated"]) - EPOCH) // MILLISECOND


def effective(observation: dict[str, Any]) -> datetime | None:
    text = observation.get("effectiveDateTime")
    return None if text is None else datetime.fromisoformat(text)


async def test_observations_by_date_descending(loaded: httpx.AsyncClient) -> None:
    found = await resources(loaded, "/Observation", _sort="-date", _count="50")
    assert len(found) == 13
    dated = [o for o in found if effective(o) is not None]
    undated = found[len(dated) :]
    assert all(effective(o) is None for o in undated), "missing values go last"
    moments = [effective(o) for o in dated]
    assert moments == sorted(moments, reverse=True)  # type: ignore[type-var]
    ascending = await resources(loaded, "/Observation", _sort="date", _count="50")
    assert [o["id"] for o in ascending[: len(dated)]] == [
        o["id"] for o in sorted(dated, key=lambda o: (effective(o), o["id"]))
    ]


async def test_goals_by_lifecycle_status_then_newest(loaded: httpx.AsyncClient) -> None:
    goal = (await resources(loaded, "/Goal", _sort="_id"))[0]
    goal["description"] = {"text": "touched, so it is the newest active goal"}
    touched = await loaded.put(f"/Goal/{goal['id']}", json=goal, headers=JSON)
    assert touched.status_code == 200, touched.text
    found = await resources(loaded, "/Goal", _sort="lifecycle-status,-_lastUpdated")
    order = [(g["lifecycleStatus"], -millis(g), g["id"]) for g in found]
    assert len(order) == 4 and order == sorted(order)
    assert [s for s, _, _ in order] == ["active", "active", "active", "completed"]
    if goal["lifecycleStatus"] == "active":
        assert found[0]["id"] == goal["id"]


async def test_next_links_walk_the_sorted_result_exactly_once(loaded: httpx.AsyncClient) -> None:
    everything = [o["id"] for o in await resources(loaded, "/Observation", _sort="-date,code")]
    assert await walk(loaded, "/Observation?_sort=-date,code&_count=2") == everything
    assert await walk(loaded, "/Observation?_sort=-date,code&_count=5") == everything

    observations = {o["id"]: o for o in await resources(loaded, "/Observation", _count="50")}
    ids = sorted(observations)
    writes = 0

    async def others_write() -> None:
        # move an observation's date to either end of the order, and add a new one
        nonlocal writes
        writes += 1
        moved = observations[ids[(writes * 5) % len(ids)]]
        moved["effectiveDateTime"] = "2030-01-01T00:00:00Z" if writes % 2 else "2001-01-01"
        assert (
            await loaded.put(f"/Observation/{moved['id']}", json=moved, headers=JSON)
        ).is_success
        new = {k: v for k, v in moved.items() if k not in ("id", "meta")}
        assert (await loaded.post("/Observation", json=new, headers=JSON)).status_code == 201

    walked = await walk(loaded, "/Observation?_sort=-date,code&_count=3", others_write)
    assert writes >= 3
    assert sorted(walked) == sorted(everything), "each once; those created meanwhile not"


async def test_bad_sort_is_refused(loaded: httpx.AsyncClient) -> None:
    for bad in ("no-such-parameter", "-", "date,,code", "code-value-quantity"):
        response = await loaded.get("/Observation", params={"_sort": bad})
        assert response.status_code == 400, bad
        assert response.json()["issue"][0]["expression"] == ["_sort"]


async def test_bad_cursor_is_refused(loaded: httpx.AsyncClient) -> None:
    first = (await loaded.get("/Observation", params={"_sort": "-date", "_count": "2"})).json()
    next_url = next(link["url"] for link in first["link"] if link["relation"] == "next")
    cursor = httpx.URL(next_url).params["_cursor"]

    def encoded(value: Any) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    for bad, sort in [
        ("not a cursor!", "-date"),
        ("Observation/obs-copd-spo2", "-date"),
        (encoded({"a": 1}), "-date"),
        (encoded([1, "Observation/x", [["x", 1]]]), "-date"),
        (encoded([1, "Observation/x", [["t", "yesterday"]]]), "-date"),
        (encoded([-1, "Observation/x", [None]]), "-date"),
        (cursor, "-date,code"),  # a cursor of another sort
    ]:
        response = await loaded.get("/Observation", params={"_sort": sort, "_cursor": bad})
        assert response.status_code == 400, bad
        assert response.json()["issue"][0]["expression"] == ["_cursor"]
    good = await loaded.get("/Observation", params={"_sort": "-date", "_cursor": cursor})
    assert good.status_code == 200
