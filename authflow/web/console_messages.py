"""The console's messages page: every message the server sent or queued, newest first.

Theory of operation: the page reads the store's outbox (`tx.list_outbox`), where the
engine records each message in the transaction of the change that caused it
(invitations, verification and MFA codes, recovery codes), kept after delivery with
its delivery state (PENDING with the next attempt, SENT with when, FAILED with the last
error). Bodies are sealed at rest; they are opened here (`engine.open_message`) only
for a signed-in console, because they hold temporary passwords and codes. The list can
be narrowed to one pool and one recipient (the destination address or number), and is
paged by position: the next page starts strictly before the (created, id) of the last
entry shown, so entries arriving meanwhile never shift a page.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from authflow.core.records import OutboxEntry

PER_PAGE = 50


def position(entry: OutboxEntry) -> str:
    return f"{entry.created.isoformat()}|{entry.id}"


def parse_position(text: str) -> tuple[datetime, str] | None:
    created, sep, entry_id = text.partition("|")
    if not sep or not entry_id:
        return None
    try:
        moment = datetime.fromisoformat(created)
    except ValueError:
        return None
    return (moment, entry_id) if moment.tzinfo is not None else None


def shown(engine, entry: OutboxEntry) -> dict[str, Any]:
    """What the page shows of one entry; a body that cannot be opened (its key retired
    and gone) says so instead of failing the page."""
    try:
        message = engine.open_message(entry)
        body, opened = message.body, True
    except Exception:
        message, body, opened = entry.message, "", False
    return {"entry": entry, "message": message, "body": body, "opened": opened}


def messages_page(console, request: Request) -> Response:
    q = request.query_params
    pool_id, recipient = q.get("pool", "").strip(), q.get("to", "").strip()
    before_text = q.get("before", "")
    start = max(0, int(q["start"])) if q.get("start", "").isascii() and q.get("start", "").isdigit() else 0
    error = None
    before = parse_position(before_text) if before_text else None
    if before_text and before is None:
        error = {"type": "InvalidParameterException", "message": "The page position is not valid; showing the newest messages."}
        start = 0
    engine = console.ctx.engine
    with engine.store.transaction() as tx:
        entries = tx.list_outbox(pool_id=pool_id or None, destination=recipient or None, before=before,
                                 limit=PER_PAGE + 1)
    more = len(entries) > PER_PAGE
    entries = entries[:PER_PAGE]
    return console.render(
        request, "messages.html", error=error, rows=[shown(engine, e) for e in entries], pool_id=pool_id,
        recipient=recipient, start=start, paged=bool(before),
        next_before=position(entries[-1]) if more and entries else None)
