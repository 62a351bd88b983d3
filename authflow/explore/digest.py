"""How the explorer sees a state: the projection that keeps what can still influence a
later request of the alphabet and drops the rest (random values replaced by what they
refer to, times made relative to the clock and clamped, unreachable records left out; the
package docstring lists the rules; with the device flows, each held device as its owner,
status and whether the caller forgot it), its canonical digest, by which states are
de-duplicated, and the short label of a state in the graph (`StateDigest`). With the group
flows, the pool's groups and memberships, and the memberships the caller ended; with the
TOTP flows, how the held secret stands to the stored ones and time steps relative to now;
with the rotation flows, the held refresh tokens of the rotating client by what their records
and markers say (`_rotation_state`); with the passwordless flows, the held OTP and passkey
sessions, passkeys and registrations (`authflow.explore.passwordless.passwordless_state`)."""

from __future__ import annotations

import hashlib
from dataclasses import fields
from datetime import datetime, timedelta
from typing import Any

from authflow.core.auth import credential_tag
from authflow.core.codes import REQUEST_WINDOW
from authflow.core.device_srp import pending_id
from authflow.core.lockout import IDLE_RESET
from authflow.crypto.passwords import verify_password
from authflow.explore.caller import Caller
from authflow.explore.passwordless import passwordless_state
from authflow.invariants import Records, block_id, rfc6238, session_id, token_hash
from authflow.invariants.rotation import LINEAGE, ROTATED, rotation_grace
from authflow.service.mfa import open_secret, setup_progress


class _PoolRef:
    """What opening a sealed secret reads of a pool: its id (the sealing context)."""

    def __init__(self, pool_id: str) -> None:
        self.id = pool_id


def _ms(delta: timedelta) -> int:
    return delta // timedelta(milliseconds=1)


#: No code rule looks further back than this (the longest code lifetime).
_CODE_HORIZON = timedelta(hours=24)


def _pending_code(code: Any, now: datetime) -> tuple[Any, ...]:
    """A pending code as the digest sees it: every field but its keyed hash (wrong
    guesses, attribute, held-back value), instants as
    durations from now, clamped where no rule can tell them apart any more."""
    out = []
    for f in fields(code):
        value = getattr(code, f.name)
        if f.name == "code_hash":
            continue
        if isinstance(value, datetime):
            value = max(0, _ms(value - now)) if value >= now else max(-_ms(_CODE_HORIZON), _ms(value - now))
        out.append((f.name, value))
    return tuple(out)


class StateDigest:
    """How the explorer sees a state; mixed into `Explorer`, whose `universe`, `pool_id`,
    `by_login`, `_password_ids`, `_opened` (opened TOTP secrets) and `client` it reads."""

    def _slot(self, user: Any) -> int | None:
        """The universe user a stored user is (by username, or by its login attribute)."""
        if user is None:
            return None
        if user.username in self.by_login:
            return self.by_login[user.username]
        for kind in ("email", "phone_number"):
            if user.attributes.get(kind) in self.by_login:
                return self.by_login[user.attributes[kind]]
        return None

    def _password_id(self, password_hash: str) -> str:
        known = self._password_ids.get(password_hash)
        if known is None:
            u = self.universe
            known = next(
                (u.password_name(p) for p in (u.temporary, u.new, u.wrong, u.weak) if verify_password(p, password_hash)),
                "other",
            )
            self._password_ids[password_hash] = known
        return known

    def _name(self, user: Any) -> str:
        slot = self._slot(user)
        return self.universe.names[slot] if slot is not None else user.username

    def projection(self, records: Records, now: datetime, caller: Caller) -> tuple[Any, ...]:
        users = records.users_of(self.pool_id)
        by_sub = {u.sub: u for u in users}
        names = {u.sub: self._name(u) for u in users}
        window = self.universe.temporary_window
        projected_users = []
        for u in users:
            credential = None
            if u.credential is not None:
                credential = (self._password_id(u.credential.password_hash), u.credential.temporary)
                if u.credential.temporary:
                    age = now - u.credential.issued_at
                    credential += ("expired" if age >= window else _ms(age),)
            pending = tuple((purpose, _pending_code(c, now)) for purpose, c in sorted(u.codes.items()))
            # Code requests in an hour that has passed are as good as none.
            requests = tuple(
                (purpose, r.count, _ms(now - r.window_start))
                for purpose, r in sorted(u.code_requests.items()) if now < r.window_start + REQUEST_WINDOW
            )
            projected_users.append((
                names[u.sub], u.username == u.sub, u.status, u.enabled,
                tuple(sorted((k, v) for k, v in u.attributes.items() if k != "sub")),
                tuple(sorted(u.aliases)), tuple(u.mfa_settings), u.preferred_mfa, credential, pending, requests,
            ))
        counters = []
        for r in records.failed_sign_ins:
            age = now - r.last_attempt
            owner = names.get(r.key) or (r.key if r.key.startswith("unknown:") else None)
            if r.pool_id != self.pool_id or age >= IDLE_RESET or owner is None:
                continue  # idle for 15 minutes, or a deleted user's: no request can tell it from none
            locked = max(0, _ms(r.locked_until - now)) if r.locked_until is not None else 0
            counters.append((owner, r.count, locked, _ms(age)))
        history = caller.history

        def device_state(key: str | None) -> tuple[Any, ...] | None:
            """A device as a later request can tell it: which user's held key it is, its
            owner and status (absent once forgotten), and whether the caller forgot it."""
            if key is None:
                return None
            held = next((j for j, d in enumerate(caller.devices) if d is not None and d.key == key), "unheld")
            device = records.device(self.pool_id, key)
            return (held, None if device is None else (names.get(device.sub), device.status),
                    (self.pool_id, key) in history.forgotten_devices)

        challenges = []
        for c in caller.challenges:
            if c is None:
                challenges.append(None)
                continue
            named = records.user_named(self.pool_id, c.username)
            if c.device is not None and c.name in ("DEVICE_SRP_AUTH", "DEVICE_PASSWORD_VERIFIER"):
                # One pending record per device, found by its key; a Session is its latest one or stale.
                record = records.session_by_id(pending_id(self.pool_id, c.device.key))
                holder = by_sub.get(record.sub) if record else None
                challenges.append((
                    c.name, names.get(named.sub) if named else None, device_state(c.device.key),
                    None if record is None else (
                        record.challenge, record.used, max(0, _ms(record.expires - now)),
                        names.get(holder.sub) if holder else None,
                        record.code_hash == hashlib.sha256(c.session.encode()).hexdigest(),
                        bool(holder and record.credential_tag == credential_tag(holder.credential)),
                    ),
                    session_id(c.session) in history.succeeded_sessions,
                ))
                continue
            if c.name == "PASSWORD_VERIFIER":  # a block: no session record until it is used
                holder = by_sub.get(c.sub) if c.sub else None
                current = bool(holder and holder.credential and holder.credential.password_hash == c.credential)
                challenges.append((
                    c.name, names.get(named.sub) if named else None, c.custom,
                    records.session_by_id(block_id(c.session)) is not None,
                    max(0, _ms(c.expires - now)) if c.expires else 0,
                    names.get(holder.sub) if holder else None, current,
                    block_id(c.session) in history.succeeded_secret_blocks,
                ))
                continue
            record = records.session(c.session)
            holder = by_sub.get(record.sub) if record else None
            challenges.append((
                c.name, names.get(named.sub) if named else None, c.code is not None, c.required,
                None if record is None else (
                    record.used, max(0, _ms(record.expires - now)), names.get(holder.sub) if holder else None,
                    record.typed_username,
                    # whether the password the session stands on is still the user's: a
                    # re-sent temporary password hashes anew but projects the same
                    bool(holder and record.credential_tag == credential_tag(holder.credential)),
                ),
                session_id(c.session) in history.succeeded_sessions,
                *((c.hidden,) if c.hidden else ()),
                *((device_state(c.device.key if c.device else None),
                   device_state(record.device_key if record else None)) if caller.devices else ()),
            ))
        held = []
        for t in caller.tokens:
            if t is None:
                held.append(None)
                continue
            family = records.refresh_token(t.refresh)
            owner = by_sub.get(family.sub) if family else None
            held.append((
                None if family is None else (
                    family.revoked, names.get(owner.sub) if owner else None,
                    bool(owner and family.generation < owner.token_generation),
                    max(0, _ms(family.expires - now)),
                ),
                max(0, _ms(t.access_expires - now)),
                token_hash(t.refresh) in history.revoked_tokens,
                *((device_state(family.device_key if family else t.device_key),) if caller.devices else ()),
            ))
        by_name = {names[u.sub]: u for u in users}
        codes = []
        for i, pairs in enumerate(caller.codes):
            user = by_name.get(self.universe.names[i])
            codes.append(tuple(
                (purpose, bool(user and purpose in user.codes and user.codes[purpose].code_hash == c.code_hash))
                for purpose, c in pairs
            ))
        return (
            tuple(sorted(projected_users)), tuple(sorted(counters)), tuple(challenges), tuple(held),
            tuple(sorted(history.validation_values)), tuple(codes),
            *((tuple(device_state(d.key if d else None) for d in caller.devices),) if caller.devices else ()),
            *((self._groups_state(records, users, names, history),) if "groups" in self.universe.flows else ()),
            *((self._totp_state(records, now, caller, by_name),) if caller.totp else ()),
            *((self._rotation_state(records, now, caller, by_sub, names),) if caller.rotating else ()),
            *((passwordless_state(self, records, now, caller, by_name, names),) if caller.passwordless else ()),
        )

    def _rotation_state(
        self, records: Records, now: datetime, caller: Caller, by_sub: dict[str, Any], names: dict[str, str],
    ) -> tuple[Any, ...]:
        """Per user, the held family of the rotating client as a later request can tell it:
        the access token's remaining lifetime; per held refresh token (oldest first), the
        family record it is the current token of (revoked, owner, signed out since, remaining
        lifetime), or its `rotated_refresh_token` marker (its family's current token as the
        held position that holds it, the time since it was rotated out and the grace left,
        clamped at 0, the family's remaining lifetime, whether it is the rotating client's),
        and what the caller saw (revoked it, when it saw it rotated out, clamped like the
        marker); the family's `refresh_lineage` (how many tokens it remembers, which held ones
        among them, its remaining lifetime); and whether the caller saw the family replayed
        or revoked. Random values (tokens, hashes, origin_jti) never appear; unheld markers and
        lineages are left out (no request can reach them)."""
        history = caller.history
        grace = timedelta(seconds=rotation_grace(records, self.rotating_id) or 0)

        def since(at: datetime | None) -> int | None:  # past the grace period, all alike
            return None if at is None else min(_ms(now - at), _ms(grace))

        out = []
        for held in caller.rotating:
            if held is None:
                out.append(None)
                continue
            position = {token_hash(r): p for p, r in enumerate(held.refresh)}
            tokens, origins = [], set()
            for r in held.refresh:
                digest = token_hash(r)
                family = records.refresh_token(r)
                marker = records.resource(self.pool_id, ROTATED, digest)
                current = marker_state = None
                if family is not None:
                    origins.add(family.origin_jti)
                    owner = by_sub.get(family.sub)
                    current = (family.revoked, names.get(owner.sub) if owner else None,
                               bool(owner and family.generation < owner.token_generation),
                               max(0, _ms(family.expires - now)))
                if marker is not None:
                    body = marker.body
                    origins.add(str(body.get("OriginJti")))
                    of = records.family_by_origin(self.pool_id, str(body.get("OriginJti")))
                    marker_state = (
                        position.get(of.token_hash, "unheld") if of is not None else None,
                        since(datetime.fromisoformat(body["RotatedAt"])),
                        max(0, _ms(datetime.fromisoformat(body["UsableUntil"]) - now)),
                        max(0, _ms(datetime.fromisoformat(body["Expires"]) - now)),
                        body.get("ClientId") == self.rotating_id,
                    )
                tokens.append((current, marker_state, digest in history.revoked_tokens,
                               since(history.rotated_at(digest))))
            lineages = []
            for origin in sorted(origins):
                lineage = records.resource(self.pool_id, LINEAGE, origin)
                if lineage is not None:
                    kept = lineage.body.get("Rotated") or ()
                    lineages.append((len(kept), tuple(position.get(h, "unheld") for h in kept),
                                     max(0, _ms(datetime.fromisoformat(lineage.body["Expires"]) - now))))
            families = {history.family_of(token_hash(r)) for r in held.refresh} - {None}
            out.append((
                max(0, _ms(held.access_expires - now)), tuple(tokens), tuple(sorted(lineages)),
                bool(families & history.reused_families), bool(families & history.revoked_families),
                len(families),
            ))
        return tuple(out)

    def _groups_state(self, records: Records, users: Any, names: dict[str, str], history: Any) -> tuple[Any, ...]:
        """The pool's groups (name, precedence, role), its memberships by universe name, and
        the memberships the caller ended (of users still there)."""
        by_key = {u.username_key: names[u.sub] for u in users}
        return (
            tuple(sorted((g.name, g.precedence, g.role_arn) for g in records.groups if g.pool_id == self.pool_id)),
            tuple(sorted((by_key.get(k, k), g) for p, g, k in records.memberships if p == self.pool_id)),
            tuple(sorted((names[sub], g) for p, sub, g in history.group_departures if p == self.pool_id and sub in names)),
        )

    def _secret(self, user: Any, sealed: bytes) -> str | None:
        """The SecretCode a sealed software token holds (opened with the engine's key; cached)."""
        opened = self._opened.get(sealed)
        if opened is None:
            opened = self._opened[sealed] = open_secret(self.client.engine, _PoolRef(user.pool_id), user, sealed)
        return opened

    def _totp_state(self, records: Records, now: datetime, caller: Caller, by_name: dict[str, Any]) -> tuple[Any, ...]:
        """Per user, what a later TOTP request can tell: whether the held secret is the
        verified authenticator's, the pending one's or an MFA_SETUP session's (and that
        session's progress), and time steps (the token's last used one, the held code's, the
        latest the caller saw accepted) relative to now, clamped at two steps back (no code
        within the one-step skew is told apart by an older one)."""
        current = rfc6238.time_step(now.timestamp())

        def relative(step: int | None) -> int | None:
            return None if step is None else max(-2, step - current)

        out = []
        for i, held in enumerate(caller.totp):
            user = by_name.get(self.universe.names[i])
            secret = held.secret if held else None
            token = pending = setup = None
            if user is not None and user.software_token is not None:
                token = (self._secret(user, user.software_token.secret) == secret, relative(user.software_token.last_step))
            if user is not None and user.pending_software_token is not None:
                pending = self._secret(user, user.pending_software_token) == secret
            challenge = caller.challenges[i]
            record = records.session(challenge.session) if challenge and challenge.name == "MFA_SETUP" else None
            if record is not None and record.progress:
                progress = setup_progress(self.client.engine, record)
                setup = (progress.get("secret") == secret if progress.get("secret") else None, bool(progress.get("verified")))
            seen = None
            if user is not None and secret is not None:
                accepted = [s for p, sub, k, s in caller.history.totp_accepted if (p, sub, k) == (user.pool_id, user.sub, secret)]
                seen = (caller.history.verified_secret(user.pool_id, user.sub) == secret,
                        relative(max(accepted)) if accepted else None)
            out.append((token, pending, setup, None if held is None else (relative(held.used_step), held.used is not None),
                        seen))
        return tuple(out)

    def digest(self, records: Records, now: datetime, caller: Caller) -> bytes:
        return hashlib.blake2b(repr(self.projection(records, now, caller)).encode(), digest_size=16).digest()

    def describe(self, records: Records, now: datetime, caller: Caller) -> str:
        """A short label of a state, for the graph."""
        users = {self._name(u): u for u in records.users_of(self.pool_id)}
        counters = {r.key: r for r in records.failed_sign_ins if now - r.last_attempt < IDLE_RESET}
        lines = []
        for i, name in enumerate(self.universe.names):
            user = users.get(name)
            facts = []
            if user is None:
                facts.append("absent")
            else:
                facts.append(user.status)
                credential = user.credential
                if credential and credential.temporary and now - credential.issued_at >= self.universe.temporary_window:
                    facts.append("temporary password expired")
                if not user.enabled:
                    facts.append("disabled")
                facts.extend(f"{kind} alias" for kind, _ in user.aliases)
                counter = counters.get(user.sub)
                if counter is not None:
                    locked = counter.locked_until is not None and now < counter.locked_until
                    facts.append(f"{counter.count} failures" + (", locked" if locked else ""))
            challenge = caller.challenges[i]
            if challenge is not None:
                if challenge.name == "PASSWORD_VERIFIER":
                    used = records.session_by_id(block_id(challenge.session)) is not None
                    spent = used or challenge.expires is None or now >= challenge.expires
                elif challenge.device is not None and challenge.name.startswith("DEVICE_"):
                    session = records.session_by_id(pending_id(self.pool_id, challenge.device.key))
                    spent = (session is None or session.used or now >= session.expires
                             or session.code_hash != hashlib.sha256(challenge.session.encode()).hexdigest())
                else:
                    session = records.session(challenge.session)
                    spent = session is None or session.used or now >= session.expires
                what = "an SRP block" if challenge.name == "PASSWORD_VERIFIER" else f"a {challenge.name} session"
                facts.append(f"holds {what}" + (" (spent)" if spent else ""))
            if caller.tokens[i] is not None:
                revoked = token_hash(caller.tokens[i].refresh) in caller.history.revoked_tokens
                facts.append("holds tokens" + (" (revoked)" if revoked else ""))
            device = caller.devices[i] if caller.devices else None
            if device is not None:
                stored = records.device(self.pool_id, device.key)
                forgotten = (self.pool_id, device.key) in caller.history.forgotten_devices
                facts.append(f"holds a device ({'forgotten' if forgotten else stored.status if stored else 'gone'})")
            for purpose, held in caller.codes[i] if caller.codes else ():
                current = user is not None and purpose in user.codes and user.codes[purpose].code_hash == held.code_hash
                facts.append(f"holds a {purpose} code" + ("" if current else " (stale)"))
            lines.append(f"{name}: " + ", ".join(facts))
        return "\n".join(lines)
