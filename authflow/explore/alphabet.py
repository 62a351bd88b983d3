"""The alphabet: every request the explorer may send from a state. For each universe user:
create (plain, with a shared email verified or not, with ForceAliasCreation), re-invite,
sign in by login or email with each password, answer the latest challenge well or badly,
refresh, sign out, revoke, disable, enable, give or delete an email, turn on SMS MFA,
delete; then the self-service, other-flow, device, group, TOTP, rotation and passwordless requests where asked
for, and the clock jumps."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from authflow.explore.actions import ADVANCE, Action, const, with_tokens
from authflow.explore.caller import Caller
from authflow.explore.devices import device_actions
from authflow.explore.flows import flow_actions
from authflow.explore.groups import group_actions
from authflow.explore.passwordless import passwordless_actions
from authflow.explore.rotation import rotation_actions
from authflow.explore.self_service import self_service_actions
from authflow.explore.totp import totp_actions
from authflow.explore.universe import Universe


def base_attributes(u: Universe, i: int) -> list[dict[str, str]]:
    """The attributes user i is created with: a personal, unverified email in a plain or
    alias pool, and a phone number where the pool asks for SMS MFA."""
    attributes = []
    if u.logins[i] == u.names[i]:
        attributes.append({"Name": "email", "Value": f"{u.names[i]}@example.net"})
    if u.phones and not u.logins[i].startswith("+"):
        attributes.append({"Name": "phone_number", "Value": f"+1555020{i:04d}"})
    return attributes


def build_alphabet(
    u: Universe, pool_id: str, client_id: str, *, hidden_id: str | None = None,
    clock: Callable[[], datetime] | None = None, claims: dict[str, str] | None = None,
    rotating_id: str | None = None,
) -> list[Action]:
    actions: list[Action] = []
    marker = [{"Name": "explore", "Value": u.validation_value}]

    def base(i: int) -> list[dict[str, str]]:
        return base_attributes(u, i)

    def with_email(i: int, email: str, verified: bool) -> list[dict[str, str]]:
        attributes = [a for a in base(i) if a["Name"] != "email"]
        attributes.append({"Name": "email", "Value": email})
        if verified:
            attributes.append({"Name": "email_verified", "Value": "true"})
        return attributes

    for i, name in enumerate(u.names):
        create = {
            "UserPoolId": pool_id, "Username": u.logins[i], "TemporaryPassword": u.temporary,
            "MessageAction": "SUPPRESS", "ValidationData": marker,
        }
        actions.append(Action(f"create {name}", const("admin_create_user", {**create, "UserAttributes": base(i)})))
        for email in u.emails:
            for verified, force in ((True, False), (True, True), (False, False)):
                label = f"create {name} with {'verified' if verified else 'unverified'} {email}"
                actions.append(Action(
                    label + (" (ForceAliasCreation)" if force else ""),
                    const("admin_create_user", {
                        **create, "UserAttributes": with_email(i, email, verified), "ForceAliasCreation": force,
                    }),
                ))
        actions.append(Action(f"re-invite {name}", const("admin_create_user", {
            "UserPoolId": pool_id, "Username": u.logins[i], "MessageAction": "RESEND",
            "TemporaryPassword": u.temporary, "DesiredDeliveryMediums": [u.delivery],
        })))
    for login in (*u.logins, *u.emails):
        for password in (u.temporary, u.new, u.wrong):
            actions.append(Action(
                f"sign in as {login} with the {u.password_name(password)} password",
                const("initiate_auth", {
                    "ClientId": client_id, "AuthFlow": "USER_PASSWORD_AUTH",
                    "AuthParameters": {"USERNAME": login, "PASSWORD": password},
                }),
            ))
    for i, name in enumerate(u.names):
        actions.append(Action(f"answer {name}'s challenge", _answer(u, client_id, i, good=True)))
        actions.append(Action(f"answer {name}'s challenge wrongly", _answer(u, client_id, i, good=False)))
        actions.append(Action(f"refresh {name}'s tokens", with_tokens(i, lambda t: ("initiate_auth", {
            "ClientId": client_id, "AuthFlow": "REFRESH_TOKEN_AUTH", "AuthParameters": {"REFRESH_TOKEN": t.refresh},
        }))))
        actions.append(Action(f"GlobalSignOut with {name}'s access token", with_tokens(
            i, lambda t: ("global_sign_out", {"AccessToken": t.access}))))
        actions.append(Action(f"revoke {name}'s refresh token", with_tokens(
            i, lambda t: ("revoke_token", {"ClientId": client_id, "Token": t.refresh}))))
    for i, name in enumerate(u.names):
        who = {"UserPoolId": pool_id, "Username": u.logins[i]}
        actions.append(Action(f"sign {name} out everywhere", const("admin_user_global_sign_out", who)))
        actions.append(Action(f"disable {name}", const("admin_disable_user", who)))
        actions.append(Action(f"enable {name}", const("admin_enable_user", who)))
        for email in u.emails:
            actions.append(Action(f"give {name} the verified email {email}", const("admin_update_user_attributes", {
                **who, "UserAttributes": [{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}],
            })))
        if u.logins[i] == u.names[i]:
            actions.append(Action(f"delete {name}'s email", const(
                "admin_delete_user_attributes", {**who, "UserAttributeNames": ["email"]})))
        if u.mfa_optional:
            actions.append(Action(f"turn on SMS MFA for {name}", const(
                "admin_set_user_mfa_preference", {**who, "SMSMfaSettings": {"Enabled": True, "PreferredMfa": True}})))
        actions.append(Action(f"delete {name}", const("admin_delete_user", who)))
    if u.self_service:
        actions.extend(self_service_actions(u, pool_id, client_id, base, with_email))
    if u.flows:
        assert clock is not None and claims is not None
        actions.extend(flow_actions(u, pool_id, client_id, hidden_id, clock, claims))
    if "devices" in u.flows:
        actions.extend(device_actions(u, client_id, clock))
    if "groups" in u.flows:
        actions.extend(group_actions(u, pool_id))
    if "totp" in u.flows:
        actions.extend(totp_actions(u, client_id, clock))
    if "rotation" in u.flows:
        assert rotating_id is not None
        actions.extend(rotation_actions(u, rotating_id))
    if "passwordless" in u.flows:
        actions.extend(passwordless_actions(u, client_id))
    for seconds in u.clock_steps:
        actions.append(Action(f"advance the clock {seconds} s", const(ADVANCE, {"seconds": seconds})))
    return actions


def _answer(u: Universe, client_id: str, i: int, *, good: bool) -> Callable[[Caller], tuple[str, dict] | None]:
    def build(caller: Caller) -> tuple[str, dict] | None:
        challenge = caller.challenges[i]
        if challenge is None:
            return None
        responses = {"USERNAME": challenge.username}
        if challenge.name == "NEW_PASSWORD_REQUIRED":
            responses["NEW_PASSWORD"] = u.new if good else u.weak
            for name in challenge.required:
                attribute = name.removeprefix("userAttributes.")
                value = {"email": f"{u.names[i]}@example.org", "phone_number": f"+1555030{i:04d}"}.get(attribute, "x")
                responses[f"userAttributes.{attribute}"] = value
        elif challenge.name == "SMS_MFA" and challenge.code is not None:
            wrong = "000000" if challenge.code != "000000" else "111111"
            responses["SMS_MFA_CODE"] = challenge.code if good else wrong
        else:
            return None
        return "respond_to_auth_challenge", {
            "ClientId": client_id, "ChallengeName": challenge.name, "Session": challenge.session,
            "ChallengeResponses": responses,
        }

    return build
