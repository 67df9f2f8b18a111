"""``MongoStore``'s state records (``protocol.StateRecord``) in the ``state`` collection.

A record is ``{_id: "space|key", space, key, value, rev}``, its value JSON text
(``storage/state.py``). FerretDB runs a conditional update as a read and then a write, so
two compare-and-sets of one revision could both succeed there; only an insert into a
unique ``_id`` is race-proof. So a record is created by inserting it (``expect=0``: the
one insert that wins), and every other change holds the record's claim (``claim``, which
a crashed holder loses after the intent timeout) while it reads the revision and writes.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError

from fhircare.storage.mongo.documents import Document
from fhircare.storage.mongo.transactions import DUPLICATE_KEY, JournaledTransactions
from fhircare.storage.protocol import ANY_REV, StateRecord
from fhircare.storage.state import decode_value, encode_value, prefix_end


def record_id(space: str, key: str) -> str:
    """``space|key``; a ``|`` (or ``\\``) in the space is escaped, so no two differ only
    in where the space ends."""
    return space.replace("\\", "\\\\").replace("|", "\\|") + "|" + key


def _document(space: str, key: str, text: str, rev: int) -> Document:
    return {"_id": record_id(space, key), "space": space, "key": key, "value": text, "rev": rev}


def _record(document: Document) -> StateRecord:
    value = decode_value(document["value"])
    return StateRecord(document["space"], document["key"], value, int(document["rev"]))


class MongoState(JournaledTransactions):
    """The state methods of the ResourceStore protocol; the claims are ``claim``'s."""

    _state: AsyncCollection[Document]

    async def state_get(self, space: str, key: str) -> StateRecord | None:
        document = await self._state.find_one({"_id": record_id(space, key)})
        return None if document is None else _record(document)

    async def state_put(
        self, space: str, key: str, value: dict[str, Any], expect: int = ANY_REV
    ) -> StateRecord | None:
        text = encode_value(value).decode("utf-8")
        if expect == 0:
            return await self._create(space, key, text)
        async with self._held(space, key):
            return await self._update(space, key, text, expect)

    async def _create(self, space: str, key: str, text: str) -> StateRecord | None:
        document = _document(space, key, text, 1)
        try:
            await self._state.insert_one(document)
        except DuplicateKeyError:
            return None
        return _record(document)

    async def _update(self, space: str, key: str, text: str, expect: int) -> StateRecord | None:
        """Under the record's claim, so no other update or delete runs meanwhile."""
        current = await self._state.find_one({"_id": record_id(space, key)}, {"rev": 1})
        if current is None:
            if expect != ANY_REV:
                return None
            created = await self._create(space, key, text)
            if created is not None:
                return created
            # a create (which holds no claim) came first; nothing removes it while we hold it
            current = await self._state.find_one({"_id": record_id(space, key)}, {"rev": 1})
            assert current is not None
        rev = int(current["rev"])
        if expect not in (ANY_REV, rev):
            return None
        changed = {"$set": {"value": text, "rev": rev + 1}}
        await self._state.update_one({"_id": record_id(space, key)}, changed)
        return _record(_document(space, key, text, rev + 1))

    @asynccontextmanager
    async def _held(self, space: str, key: str) -> AsyncIterator[None]:
        """Hold the claim of one record, waiting while another writer holds it (a claim
        left by a crash is taken over once stale)."""
        name = f"state|{record_id(space, key)}"
        deadline = time.monotonic() + 2 * self._intent_timeout.total_seconds() + 5
        pause = 0.001
        token = await self.claim(name)
        while token is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the state record {space} {key} stays claimed")
            await asyncio.sleep(pause * (1 + random.random()))
            pause = min(2 * pause, 0.05)
            token = await self.claim(name)
        try:
            yield
        finally:
            await self.release(name, token)

    async def state_put_many(self, space: str, values: Mapping[str, dict[str, Any]]) -> None:
        """New records in one unordered ``insert_many``; those that exist, one by one under
        their claims. No transaction: each record is written whole, on its own."""
        texts = {key: encode_value(value).decode("utf-8") for key, value in values.items()}
        documents = [_document(space, key, text, 1) for key, text in texts.items()]
        if not documents:
            return
        try:
            await self._state.insert_many(documents, ordered=False)
            return
        except BulkWriteError as error:
            failed = error.details.get("writeErrors") or []
            if any(e.get("code") != DUPLICATE_KEY for e in failed):
                raise
            existing = [documents[int(e["index"])]["key"] for e in failed]

        async def overwrite(key: str) -> None:
            async with self._held(space, key):
                await self._update(space, key, texts[key], ANY_REV)

        await asyncio.gather(*(overwrite(key) for key in existing))

    async def state_get_many(self, space: str, keys: Sequence[str]) -> dict[str, StateRecord]:
        # one lookup by _id per key: FerretDB serves no other filter from an index
        wanted = sorted(set(keys))
        found = await asyncio.gather(
            *(self._state.find_one({"_id": record_id(space, key)}) for key in wanted)
        )
        return {d["key"]: _record(d) for d in found if d is not None}

    async def state_delete(self, space: str, key: str) -> None:
        async with self._held(space, key):
            await self._state.delete_one({"_id": record_id(space, key)})

    async def state_list(
        self, space: str, prefix: str = "", after: str = "", count: int = 100
    ) -> list[StateRecord]:
        if count <= 0:
            return []
        keys: Document = {"$gte": prefix, "$gt": after}
        end = prefix_end(prefix)
        if end is not None:
            keys["$lt"] = end
        cursor = self._state.find({"space": space, "key": keys}).sort("key").limit(count)
        return [_record(d) for d in await cursor.to_list()]
