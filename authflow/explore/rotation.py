"""The refresh-token rotation family (`flows` "rotation"): a second app client that rotates
refresh tokens (`ROTATING_CLIENT_REQUEST`: RefreshTokenRotation ENABLED with a grace period
of `GRACE_SECONDS`), and for each universe user: signing in through it, GetTokensFromRefreshToken
with the latest refresh token of that sign-in and with the ones rotated out before it (the
caller keeps them, `HeldFamily`, as a client that lost an answer and retries, or a thief,
would), RevokeToken with the latest and with the one before it, InitiateAuth REFRESH_TOKEN_AUTH on that client (always refused), and
GetUser with the family's latest access token; the clock also moves by the grace period, so
that a rotated-out token is presented within it and after it. The set-up signs every such
user in through the rotating client (the caller starts holding that family), so that a
rotation, a jump past the grace period, the reuse and a request after it are four deep.
"""

from __future__ import annotations

from collections.abc import Callable

from authflow.explore.actions import Action, const
from authflow.explore.caller import Caller, HeldFamily
from authflow.explore.universe import Universe

#: RetryGracePeriodSeconds of the rotating client, and the clock step the family adds.
GRACE_SECONDS = 5
ROTATING_CLIENT_REQUEST = {
    "ClientName": "explore-rotating",
    "ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    "RefreshTokenRotation": {"Feature": "ENABLED", "RetryGracePeriodSeconds": GRACE_SECONDS},
}
#: Which held refresh token a request presents: the latest, the one before, the one before that.
POSITIONS = (("latest", 1), ("previous", 2), ("oldest", 3))


def rotation_actions(u: Universe, rotating_id: str) -> list[Action]:
    """The rotation half of the alphabet, for the first `family_users` users."""
    actions: list[Action] = []
    for i, name in enumerate(u.names[:u.family_users]):
        actions.append(Action(f"sign in as {name} through the rotating client", const(
            "initiate_auth", {"ClientId": rotating_id, "AuthFlow": "USER_PASSWORD_AUTH",
                              "AuthParameters": {"USERNAME": u.logins[i], "PASSWORD": u.new}})))
        for label, back in POSITIONS:
            actions.append(Action(f"get {name}'s tokens with the {label} rotating refresh token", _with_refresh(
                i, back, lambda token: ("get_tokens_from_refresh_token",
                                        {"ClientId": rotating_id, "RefreshToken": token}))))
        for label, back in POSITIONS[:2]:  # the latest, and one rotated out (it names its family too)
            actions.append(Action(f"revoke {name}'s {label} rotating refresh token", _with_refresh(
                i, back, lambda token: ("revoke_token", {"ClientId": rotating_id, "Token": token}))))
        actions.append(Action(f"refresh {name}'s rotating tokens with REFRESH_TOKEN_AUTH", _with_refresh(
            i, 1, lambda token: ("initiate_auth", {"ClientId": rotating_id, "AuthFlow": "REFRESH_TOKEN_AUTH",
                                                   "AuthParameters": {"REFRESH_TOKEN": token}}))))
        actions.append(Action(f"GetUser with {name}'s rotating access token", _with_family(
            i, lambda held: ("get_user", {"AccessToken": held.access}))))
    return actions


def _with_family(i: int, make: Callable[[HeldFamily], tuple[str, dict]]) -> Callable[[Caller], tuple[str, dict] | None]:
    def build(caller: Caller) -> tuple[str, dict] | None:
        held = caller.rotating[i] if caller.rotating else None
        return make(held) if held is not None else None

    return build


def _with_refresh(i: int, back: int, make: Callable[[str], tuple[str, dict]]) -> Callable[[Caller], tuple[str, dict] | None]:
    """A request with the `back`-th latest refresh token the caller holds of user i's family."""
    def build(caller: Caller) -> tuple[str, dict] | None:
        held = caller.rotating[i] if caller.rotating else None
        if held is None or len(held.refresh) < back:
            return None
        return make(held.refresh[-back])

    return build
