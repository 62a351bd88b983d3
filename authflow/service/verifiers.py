"""SRP verifiers: the second form every new password is kept in.

Theory of operation: USER_SRP_AUTH never sends the password, so a password must be
kept, from the moment it is set, as an SRP verifier too (v = g^x mod N, with x bound to
the pool and the canonical username). Every operation that sets a password attaches
one to the user it writes, inside its write transaction; a password sign-in attaches
one to a credential stored before verifiers existed. A bare verifier can be tested
against password guesses far more cheaply than the Argon2id hash, so it is sealed under
the KEK, bound to its pool, user and salt (`authflow.core.srp.verifier_context`).
"""

from __future__ import annotations

from dataclasses import replace

from authflow.core import srp as core
from authflow.core.effects import Decision
from authflow.core.records import User, UserPool
from authflow.crypto import srp
from authflow.crypto.sealing import unseal
from authflow.service.engine import Engine


def with_verifier(engine: Engine, pool: UserPool, user: User, password: str) -> User:
    """`user` whose credential also answers SRP for `password`: a fresh salt, and
    v = g^x mod N built with the canonical username (USER_ID_FOR_SRP), sealed."""
    salt = int.from_bytes(engine.entropy.random_bytes(srp.SALT_BYTES), "big")
    salt_hex = srp.pad_hex(salt)
    v = srp.verifier(pool.id, user.username, password, salt)
    sealed = engine.seal(srp.pad_hex(v).encode(), core.verifier_context(pool.id, user.sub, salt_hex))
    return replace(user, credential=replace(user.credential, srp_salt=salt_hex, srp_verifier=sealed))


def with_verifiers(engine: Engine, pool: UserPool, decision: Decision, *, password: str,
                   password_hash: str) -> Decision:
    """`decision` with a verifier for the user whose new credential is `password_hash`
    (other users in it, such as a previous alias holder, keep theirs). Called after the
    decision, inside its transaction: in UsernameAttributes pools the decision makes the
    username the verifier is bound to."""
    puts = tuple(
        with_verifier(engine, pool, r, password)
        if isinstance(r, User) and r.credential is not None and r.credential.password_hash == password_hash
        else r
        for r in decision.puts
    )
    return replace(decision, puts=puts)


def open_verifier(engine: Engine, pool: UserPool, user: User) -> int:
    """The user's verifier v, unsealed (only to answer their PASSWORD_VERIFIER step)."""
    credential = user.credential
    context = core.verifier_context(pool.id, user.sub, credential.srp_salt)
    return int(unseal(engine.keyring, credential.srp_verifier, context), 16)
