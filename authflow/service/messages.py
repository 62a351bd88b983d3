"""CustomMessage: the pool's function may rewrite every message the engine sends.

Theory of operation: a decision renders its messages with the pool's templates and
keeps, on each message, the code (or temporary password) it carries. Before the
decision is written, `customized` asks the CustomMessage function (if the pool's
LambdaConfig names one) for its text, once per code, and renders that text with the
same code. It runs inside the write transaction on purpose: a function that raises,
or answers something unusable, fails the operation with nothing written, so a user is
never left with a code nobody received.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from authflow.core import pool_config as pc
from authflow.core import trigger_events as te
from authflow.core.effects import Decision, Message
from authflow.core.records import User, UserPool
from authflow.service.engine import Engine


def customized_messages(
    engine: Engine,
    pool: UserPool,
    messages: Iterable[Message],
    *,
    source: str,
    users: Iterable[User],
    client_id: str | None,
    client_metadata: Mapping[str, Any] | None = None,
) -> tuple[Message, ...]:
    """`messages` as the CustomMessage function words them (unchanged without one).
    `users` holds the records the messages are for, as they will be written."""
    messages = tuple(messages)
    arn = pc.lambda_arn(pool.config, "CustomMessage")
    if not arn or not messages:
        return messages
    by_name = {user.username: user for user in users}
    answers: dict[tuple[str, str], te.CustomMessageAnswer] = {}
    out = []
    for message in messages:
        # One call per code: an invitation by SMS and by email is one event, two
        # attribute codes (email and phone changed together) are two.
        key = (message.username, message.code)
        if key not in answers:
            event = te.custom_message_event(
                source, region=engine.region, pool_id=pool.id, user=by_name[message.username],
                client_id=client_id, client_metadata=client_metadata,
            )
            answers[key] = te.read_custom_message(
                te.invoke(engine.triggers, arn, event), placeholders=te.custom_message_placeholders(source)
            )
        out.append(te.apply_custom_message(message, answers[key]))
    return tuple(out)


def customized(
    engine: Engine,
    pool: UserPool,
    decision: Decision,
    *,
    source: str,
    client_id: str | None,
    request: Mapping[str, Any],
) -> Decision:
    """The decision with its messages customized; the users are the ones it writes."""
    if not decision.messages:
        return decision
    users = [r for r in decision.puts if isinstance(r, User)]
    messages = customized_messages(
        engine, pool, decision.messages, source=source, users=users, client_id=client_id,
        client_metadata=request.get("ClientMetadata"),
    )
    return replace(decision, messages=messages)
