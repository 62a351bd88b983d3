"""Service functions for self-service attribute changes: UpdateUserAttributes,
GetUserAttributeVerificationCode, VerifyUserAttribute.

Theory of operation: each is one transaction under the caller's access token
(`authenticate`). Codes come from the entropy port and are sent after the commit
(`Engine.deliver`). A wrong code given to VerifyUserAttribute is counted on the code,
the only write a refused VerifyUserAttribute leaves.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from authflow.core import codes
from authflow.core import users as core_users
from authflow.core import verification as core
from authflow.service.engine import Engine
from authflow.service.messages import customized
from authflow.service.registry import operation
from authflow.service.tokens import authenticate


@operation("UpdateUserAttributes")
def update_user_attributes(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    now = engine.now()
    with engine.store.transaction() as tx:
        pool, client, user, _ = authenticate(engine, tx, request["AccessToken"], now)
        writes = core.prepare_update_own_attributes(pool, client, request, user)
        holders = {
            pair: tx.get_user_by_alias(pool.id, *pair) for pair in core_users.updated_alias_pairs(pool, user, writes)
        }
        decision = core_users.decide_update_attributes(
            pool, user, writes, alias_holders=holders, now=now,
            entropy=engine.entropy, pool_secret=engine.pool_secret(pool), limited=True,
        )
        decision = customized(
            engine, pool, decision, source="CustomMessage_UpdateUserAttribute", client_id=client.id, request=request
        )
        engine.apply(tx, decision)
        entries = engine.enqueue(tx, decision.messages)
    engine.deliver(entries)
    return decision.response


@operation("GetUserAttributeVerificationCode")
def get_user_attribute_verification_code(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    # Limited to codes.REQUEST_LIMIT codes an hour (the decision refuses the next).
    now = engine.now()
    code = codes.new_code(engine.entropy)
    with engine.store.transaction() as tx:
        pool, client, user, _ = authenticate(engine, tx, request["AccessToken"], now)
        decision = core.decide_send_code(
            pool, user, request["AttributeName"], code=code, pool_secret=engine.pool_secret(pool), now=now
        )
        decision = customized(
            engine, pool, decision, source="CustomMessage_VerifyUserAttribute", client_id=client.id, request=request
        )
        engine.apply(tx, decision)
        entries = engine.enqueue(tx, decision.messages)
    engine.deliver(entries)
    return decision.response


@operation("VerifyUserAttribute")
def verify_user_attribute(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    # Calls are not counted: the guesses are, per code (codes.MAX_ATTEMPTS) and through
    # the hourly limit on new codes.
    now = engine.now()
    attribute = request["AttributeName"]
    with engine.store.transaction() as tx:
        pool, _, user, _ = authenticate(engine, tx, request["AccessToken"], now)
        checked = core.check_verify(user, attribute, request["Code"], pool_secret=engine.pool_secret(pool), now=now)
        if checked.counted is not None:
            engine.write(tx, puts=(checked.counted,))
        elif checked.ok:
            holders = {
                pair: tx.get_user_by_alias(pool.id, *pair) for pair in core.verified_alias_pairs(pool, user, attribute)
            }
            engine.apply(tx, core.decide_verify(pool, user, attribute, alias_holders=holders, now=now))
    if checked.error is not None:
        raise checked.error
    return {}
