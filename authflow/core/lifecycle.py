"""The state machines built from the specs: the user lifecycle
(`specs/user-lifecycle.yaml`), the challenge sequence of one sign-in attempt
(`specs/auth-session.yaml`) and a tracked device's life (`specs/device.yaml`).

Theory of operation: the spec is handed to `transitions.Machine` with the
library's own keys, so the library checks it (unknown states, malformed
transitions) exactly as it would check any machine. authflow never lets the library
hold a model object: a decision asks `next_status(status, trigger, facts)` and gets
the destination status or an `IllegalTransition`. Guards are evaluated here against
a dict of facts that the decision computed; a guard name that is not in the closed
registry `GUARDS` is a load error, so a typo in the spec cannot silently allow a
transition. This is the only module that imports `transitions`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from transitions import Machine

from authflow.core.spec import load_spec

#: The pseudo-state for "no such user": no stored user ever has it.
ABSENT = "ABSENT"

#: Guard names a spec may use, with what each means. Decisions supply the facts.
GUARDS: dict[str, str] = {
    "temporary_password_valid": "the temporary password's validity window has not ended",
    "password_meets_policy": "the new password satisfies the pool's password policy",
    "required_attributes_present": "every required attribute has a value",
    "must_change_password": "the user signed in with a temporary password (FORCE_CHANGE_PASSWORD)",
    "mfa_required": "MFA is to be asked by SMS (the user's SMS factor, or SMS the pool requires of everyone)",
    "software_token_mfa_required": "MFA is to be asked with the user's authenticator app (a verified software token)",
    "email_otp_mfa_required": "MFA is to be asked with a code sent to the user's email address (EMAIL_OTP)",
    "mfa_type_to_select": "the user has several MFA factors and prefers none: they choose (SELECT_MFA_TYPE)",
    "mfa_setup_required": "MFA is ON and the user has no factor yet: they set up an authenticator app first",
    "fail_authentication": "the DefineAuthChallenge function failed the sign-in (or it named no user)",
    "issue_tokens": "the DefineAuthChallenge function answered issueTokens",
    "password_verifier_named": "the DefineAuthChallenge function asked for PASSWORD_VERIFIER (after SRP_A)",
    "device_remembered": "the attempt carries the DEVICE_KEY of a remembered device of the user's, in a pool that tracks devices",
    "device_skips_mfa": "device_remembered, and the pool's ChallengeRequiredOnNewDevice is true: the device's own proof stands in for MFA",
    "remembered_on_user_prompt": "the pool's DeviceOnlyRememberedOnUserPrompt is true: a confirmed device waits for UpdateDeviceStatus",
}


class IllegalTransition(Exception):
    """The trigger is not allowed from the current status (or its guards fail).

    Internal: decisions translate it into the Cognito error the operation uses.
    """

    def __init__(self, status: str, trigger: str) -> None:
        super().__init__(f"{trigger} is not allowed from {status}")
        self.status = status
        self.trigger = trigger


class Lifecycle:
    """A state machine read from a spec; answers questions, holds no state."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        config = {k: spec[k] for k in ("states", "initial", "transitions")}
        for t in config["transitions"]:
            for key in ("conditions", "unless"):
                for guard in _as_list(t.get(key)):
                    if not isinstance(guard, str) or guard not in GUARDS:
                        raise ValueError(f"unknown guard {guard!r} in spec transition {t}")
        self._machine = Machine(model=None, auto_transitions=False, **config)
        self.name = str(spec.get("name", "machine"))
        self.initial = str(spec["initial"])
        self.states: tuple[str, ...] = tuple(self._machine.states)
        self.spec = spec

    @property
    def statuses(self) -> tuple[str, ...]:
        """States a stored user may have (every state but the pseudo-state)."""
        return tuple(s for s in self.states if s != ABSENT)

    @property
    def triggers(self) -> tuple[str, ...]:
        return tuple(sorted(self._machine.events))

    def allowed(self, status: str, trigger: str) -> bool:
        event = self._machine.events.get(trigger)
        return bool(event and event.transitions.get(status))

    def triggers_from(self, status: str) -> list[str]:
        """What may happen now: the triggers with a transition out of `status`."""
        return sorted(self._machine.get_triggers(status))

    def next_status(self, status: str, trigger: str, facts: Mapping[str, bool] | None = None) -> str:
        """The status after `trigger` from `status`, or `IllegalTransition`."""
        facts = facts or {}
        event = self._machine.events.get(trigger)
        for transition in (event.transitions.get(status, []) if event else []):
            if all(_fact(facts, c.func) == c.target for c in transition.conditions):
                return status if transition.dest is None else transition.dest
        raise IllegalTransition(status, trigger)

    #: The generic name, for machines whose states are not user statuses.
    next_state = next_status

    def transitions(self) -> list[tuple[str, str, str, tuple[str, ...]]]:
        """(source, trigger, dest, guards) rows, for generated docs and table tests."""
        rows = []
        for trigger, event in self._machine.events.items():
            for source, ts in event.transitions.items():
                for t in ts:
                    guards = tuple(
                        c.func if c.target else f"not {c.func}" for c in t.conditions
                    )
                    rows.append((source, trigger, t.dest or source, guards))
        return rows


def _fact(facts: Mapping[str, bool], name: str) -> bool:
    if name not in facts:
        # A guard the decision did not evaluate is a programming error, never "false".
        raise KeyError(f"guard {name!r} needs a fact the decision did not supply")
    return bool(facts[name])


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


@functools.cache
def user_lifecycle() -> Lifecycle:
    """The user lifecycle machine (built once per process, on first use)."""
    return Lifecycle(load_spec("user-lifecycle"))


@functools.cache
def device_lifecycle() -> Lifecycle:
    """A tracked device's life (built once per process)."""
    return Lifecycle(load_spec("device"))


@functools.cache
def auth_session() -> Lifecycle:
    """The challenge sequence of one sign-in attempt (built once per process)."""
    return Lifecycle(load_spec("auth-session"))
