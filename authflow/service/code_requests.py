"""The steps the unsigned code operations share: finding client and user behind a typed
name (also ConfirmForgotPassword, ConfirmSignUp), and the shape every "send me a code"
operation has (ForgotPassword,
ResendConfirmationCode): the app client authorises the call, the typed name finds the user
(or nobody), SecretHash is checked over the typed and the canonical name, a pure decision
says what to write, send and answer, and the message leaves only after the commit."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from authflow.core import auth, codes
from authflow.core import users as core_users
from authflow.core.effects import Decision
from authflow.core.records import AppClient, User, UserPool
from authflow.service.engine import Engine
from authflow.service.messages import customized

#: decide(pool, client, user or None, typed=, code=, pool_secret=, now=) -> Decision
Decide = Callable[..., Decision]


def client_and_user(engine: Engine, tx, request: Mapping[str, Any]) -> tuple[UserPool, AppClient, User | None]:
    """The app client, its pool, and the user the typed Username names (or None), once
    SecretHash checks out over the typed and the canonical name."""
    typed = request["Username"]
    pool, client = engine.require_client(tx, request["ClientId"])
    user = core_users.find_user(tx, pool, typed)
    auth.check_secret_hash(
        client, engine.client_secrets(client), [typed] + ([user.username] if user else []),
        request.get("SecretHash"),
    )
    return pool, client, user


def code_request(engine: Engine, request: Mapping[str, Any], decide: Decide, *, source: str) -> dict[str, Any]:
    """Run `decide` for a "send me a code" operation; `source` is its CustomMessage
    trigger source."""
    now = engine.now()
    code = codes.new_code(engine.entropy)
    typed = request["Username"]
    with engine.store.transaction() as tx:
        pool, client, user = client_and_user(engine, tx, request)
        decision = decide(pool, client, user, typed=typed, code=code, pool_secret=engine.pool_secret(pool), now=now)
        decision = customized(engine, pool, decision, source=source, client_id=client.id, request=request)
        engine.apply(tx, decision)
        entries = engine.enqueue(tx, decision.messages)
    engine.deliver(entries)
    return decision.response
