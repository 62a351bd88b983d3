"""`authflow explore --flows passwordless`: choice-based sign-in with an e-mailed code or a
passkey, and the passkeys themselves, explored exhaustively; each passwordless law shown to
catch a planted bug with a shortest trace; the package's deterministic software
authenticator against the engine; and the good/bad step of each law for test_invariants."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest

from authflow.cli import main
from authflow.explore import explore
from authflow.explore.engine import Explorer
from authflow.explore.passwordless import ORIGIN, key_id, pool_request
from authflow.invariants import Records, check
from authflow.service.registry import OPERATIONS
from authflow.testing.webauthn_authenticator import SoftAuthenticator, sign_count_of

FAMILY = ["passwordless"]
DELETED, OTP, COUNT, NO_MFA = ("deleted_passkey_never_signs_in", "otp_accepted_once_within_its_session_life",
                               "passkey_sign_count_only_grows", "passwordless_sign_in_needs_no_mfa")


def run(depth: int, **kwargs):
    return explore(users=1, aliases=0, depth=depth, progress=False, flows=FAMILY, **kwargs)


def labels(result) -> list[str]:
    return [step.label for step in result.trace]


# -- the family explored --------------------------------------------------------------------------------


def test_the_family_keeps_every_invariant_with_stable_counts():
    runs = [run(3, seed=seed) for seed in (0, 7)]
    assert all(r.ok for r in runs), [r.violation for r in runs]
    assert len({(r.states, r.transitions) for r in runs}) == 1
    assert runs[0].universe.flows == ("passwordless",)
    assert [s.operation for s in runs[0].setup] == [
        "CreateUserPool", "CreateUserPoolClient", "AdminCreateUser", "AdminSetUserPassword", "SetUserPoolMfaConfig",
        "AdminUpdateUserAttributes", "InitiateAuth", "StartWebAuthnRegistration", "CompleteWebAuthnRegistration",
        "AdminSetUserMFAPreference"]
    pool = runs[0].setup[0].request
    assert pool["Policies"]["SignInPolicy"]["AllowedFirstAuthFactors"] == ["PASSWORD", "EMAIL_OTP", "WEB_AUTHN"]
    assert pool["MfaConfiguration"] == "OPTIONAL"
    assert "ALLOW_USER_AUTH" in runs[0].setup[1].request["ExplicitAuthFlows"]
    # opt-in: the default run does not have it
    assert "passwordless" not in explore(users=1, aliases=0, depth=0, progress=False).universe.flows


def test_the_family_reaches_every_request_it_has():
    result = run(3, graph=True)
    assert result.ok
    edges = {label for _, _, label in result.graph.edges}
    assert {
        "start an EMAIL_OTP sign-in as alice", "answer alice's EMAIL_OTP with the sent code",
        "answer alice's EMAIL_OTP with the wrong code",
        "start a passkey sign-in as alice", "answer alice's WEB_AUTHN with her passkey",
        "start registering a passkey with alice's access token",
        "complete alice's passkey registration with a new passkey", "delete alice's latest passkey",
        "advance the clock 180 s",
    } <= edges


def test_replays_and_strangers_are_sent_and_refused():
    """The answers that change nothing (self-loops, not in the graph's edges) are run too: a
    replayed assertion, a passkey never registered, a code accepted in an earlier session."""
    refused = []

    def spy(real):
        def respond(engine, request):
            responses = request.get("ChallengeResponses") or {}
            try:
                return real(engine, request)
            except Exception as err:
                refused.append((request["ChallengeName"], responses.get("EMAIL_OTP_CODE") or
                                json.loads(responses.get("CREDENTIAL") or "{}").get("id"), type(err).__name__))
                raise
        return respond

    assert run(4, faults={"RespondToAuthChallenge": spy}).ok
    kinds = {(name, error) for name, _, error in refused}
    assert {("WEB_AUTHN", "NotAuthorizedException"), ("EMAIL_OTP", "CodeMismatchException"),
            ("EMAIL_OTP", "NotAuthorizedException")} <= kinds
    assert any(name == "WEB_AUTHN" and cid == key_id(0, -1) for name, cid, _ in refused)  # the stranger
    assert any(name == "WEB_AUTHN" and cid == key_id(0, 0) for name, cid, _ in refused)  # a replay of her own


def test_a_user_with_sms_mfa_signs_in_without_it_by_passkey_and_code():
    """The set-up's SMS MFA is real: a password sign-in meets SMS_MFA, the passwordless ones
    give tokens at once (what passwordless_sign_in_needs_no_mfa judges)."""
    seen = []

    def spy(real):
        def respond(engine, request):
            response = real(engine, request)
            seen.append((request.get("AuthFlow") or request.get("ChallengeName"), response.get("ChallengeName"),
                         "AuthenticationResult" in response))
            return response
        return respond

    assert run(2, faults={"InitiateAuth": spy, "RespondToAuthChallenge": spy}).ok
    assert ("USER_PASSWORD_AUTH", "SMS_MFA", False) in seen
    assert ("WEB_AUTHN", None, True) in seen and ("EMAIL_OTP", None, True) in seen


def test_the_family_has_its_own_default_depth_and_a_command_line(capsys):
    from authflow.explore import PASSWORDLESS_DEPTH

    assert PASSWORDLESS_DEPTH == 4
    assert run(None).depth == PASSWORDLESS_DEPTH
    assert main(["explore", "--users", "1", "--aliases", "0", "--depth", "1", "--quiet", "--flows",
                 "passwordless"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "no invariant violated"


# -- planted bugs -------------------------------------------------------------------------------------


def delete_nothing(real):
    """A planted bug: DeleteWebAuthnCredential checks the access token, answers success and
    deletes nothing."""
    def delete(engine, request):
        OPERATIONS["ListWebAuthnCredentials"](engine, {"AccessToken": request["AccessToken"]})
        return {}
    return delete


def test_a_deleted_passkey_that_still_signs_in_is_found():
    result = run(3, faults={"DeleteWebAuthnCredential": delete_nothing})
    assert result.violation is not None and result.violation.invariant == DELETED
    assert "which the caller deleted" in result.violation.message
    assert "delete alice's latest passkey" in labels(result)
    assert labels(result)[-1] == "answer alice's WEB_AUTHN with her passkey" and result.trace[-1].error is None
    assert run(2, faults={"DeleteWebAuthnCredential": delete_nothing}).ok  # a deletion, a sign-in, its answer


def test_a_passkey_never_registered_that_signs_in_is_found(monkeypatch):
    from authflow.service import webauthn

    monkeypatch.setattr(webauthn, "verify_assertion", lambda *args, **kwargs: None)  # accepts any assertion
    result = run(2, invariants=[DELETED])
    assert result.violation is not None and result.violation.invariant == DELETED
    assert labels(result) == ["start a passkey sign-in as alice", "answer alice's WEB_AUTHN with a passkey never registered"]


def test_an_otp_accepted_twice_is_found(monkeypatch):
    from authflow.core import auth

    # sessions are never spent (the version still moves, as a write's must)
    monkeypatch.setattr(auth, "used", lambda record: replace(record, version=record.version + 1))
    result = run(3, invariants=[OTP])
    assert result.violation is not None and result.violation.invariant == OTP
    assert labels(result) == ["start an EMAIL_OTP sign-in as alice", "answer alice's EMAIL_OTP with the sent code",
                              "answer alice's EMAIL_OTP with the sent code"]
    assert "a second time" in result.violation.message


def test_an_otp_accepted_after_its_session_life_is_found(monkeypatch):
    from authflow.core import auth

    real = auth.check_session
    monkeypatch.setattr(auth, "check_session", lambda record, *, pool, client, now: real(
        record, pool=pool, client=client, now=min(now, record.expires - timedelta(seconds=1)) if record else now))
    result = run(3, invariants=[OTP])
    assert result.violation is not None and result.violation.invariant == OTP
    assert labels(result) == ["start an EMAIL_OTP sign-in as alice", "advance the clock 180 s",
                              "answer alice's EMAIL_OTP with the sent code"]
    assert "180 s after it was sent (AuthSessionValidity 3 min)" in result.violation.message


def test_a_sign_count_that_does_not_move_is_found(monkeypatch):
    from authflow.core import webauthn

    real = webauthn.used
    monkeypatch.setattr(webauthn, "used", lambda record, *, sign_count, now: real(
        record, sign_count=int(record.body["SignCount"]), now=now))
    result = run(2)
    assert result.violation is not None and result.violation.invariant == COUNT
    assert labels(result) == ["start a passkey sign-in as alice", "answer alice's WEB_AUTHN with her passkey"]
    assert "left the stored count at 0" in result.violation.message


def mfa_after_passkey(real):
    """A planted bug: a passkey sign-in of a user with SMS MFA is sent on to SMS_MFA."""
    def respond(engine, request):
        response = real(engine, request)
        if request.get("ChallengeName") == "WEB_AUTHN" and "AuthenticationResult" in response:
            return {"ChallengeName": "SMS_MFA", "Session": "x" * 44, "ChallengeParameters": {}}
        return response
    return respond


def test_mfa_after_a_passwordless_first_factor_is_found():
    result = run(2, faults={"RespondToAuthChallenge": mfa_after_passkey})
    assert result.violation is not None and result.violation.invariant == NO_MFA
    assert labels(result) == ["start a passkey sign-in as alice", "answer alice's WEB_AUTHN with her passkey"]


# -- the software authenticator -------------------------------------------------------------------------


def test_the_package_authenticator_registers_and_signs_in_deterministically():
    ex = explorer()
    client, tokens = ex.client, ex.root.caller.tokens[0]
    options = client.start_web_authn_registration(AccessToken=tokens.access)["CredentialCreationOptions"]
    device = SoftAuthenticator(seed=b"the test's own key")
    client.complete_web_authn_registration(AccessToken=tokens.access, Credential=device.create(options, ORIGIN))
    ids = {c["CredentialId"] for c in client.list_web_authn_credentials(AccessToken=tokens.access)["Credentials"]}
    assert ids == {device.id, key_id(0, 0)}
    started = client.initiate_auth(ClientId=ex.client_id, AuthFlow="USER_AUTH",
                                   AuthParameters={"USERNAME": "alice", "PREFERRED_CHALLENGE": "WEB_AUTHN"})
    request = started["ChallengeParameters"]["CREDENTIAL_REQUEST_OPTIONS"]
    first = device.get(request, ORIGIN)
    assert device.get(request, ORIGIN)["response"]["signature"] != first["response"]["signature"]  # counter moved
    assert sign_count_of(device.last_assertion["response"]["authenticatorData"]) == 2
    again = SoftAuthenticator(seed=b"the test's own key", sign_count=1)
    again.rp_id, again.user_handle = device.rp_id, device.user_handle
    assert again.get(request, ORIGIN) == device.last_assertion  # same seed, same counter: the same bytes
    answer = client.respond_to_auth_challenge(
        ClientId=ex.client_id, ChallengeName="WEB_AUTHN", Session=started["Session"],
        ChallengeResponses={"USERNAME": "alice", "CREDENTIAL": json.dumps(device.last_assertion)})
    assert "AuthenticationResult" in answer


def test_a_code_accepted_before_is_refused_in_a_later_session():
    steps = _steps(explorer(), "start an EMAIL_OTP sign-in as alice", "answer alice's EMAIL_OTP with the sent code",
                   "start an EMAIL_OTP sign-in as alice", "answer alice's EMAIL_OTP with the accepted before code")
    assert steps[1].ok and steps[3].error is not None and steps[3].error.code == "CodeMismatchException"
    sent = [step.request["ChallengeResponses"]["EMAIL_OTP_CODE"] for step in (steps[1], steps[3])]
    assert sent[0] == sent[1] and len(sent[0]) == 8  # the whole 8-digit code, read from the message


# -- one good and one bad step per law (test_invariants' CASES) ------------------------------------------


def explorer() -> Explorer:
    request = {"PoolName": "explore"}
    pool_request(request, own_config=False)
    return Explorer(1, 0, request, 0, flows=("passwordless",), family_users=1)


def _steps(ex: Explorer, *wanted: str):
    """The steps of the alphabet entries `wanted`, in turn from the set-up state."""
    node, out = ex.root, []
    by_label = {a.label: a for a in ex.alphabet}
    for label in wanted:
        step, _, node = ex.apply(node, by_label[label], Records.of(node.state))
        out.append(step)
    return out


def _passkey_sign_in():
    ex = explorer()
    _, good = _steps(ex, "start a passkey sign-in as alice", "answer alice's WEB_AUTHN with her passkey")
    assert good.ok and "AuthenticationResult" in good.response
    return ex, good


def deleted_passkey_never_signs_in():
    ex, good = _passkey_sign_in()
    deleted = frozenset({(ex.pool_id, key_id(0, 0))})
    # the same sign-in, had the caller deleted that passkey before
    return good, replace(good, history=replace(good.history, passkeys_deleted=deleted))


def otp_accepted_once_within_its_session_life():
    ex = explorer()
    _, good = _steps(ex, "start an EMAIL_OTP sign-in as alice", "answer alice's EMAIL_OTP with the sent code")
    assert good.ok and "AuthenticationResult" in good.response
    # the same answer, had it been accepted when the session's three minutes were over
    return good, replace(good, now=good.now + timedelta(minutes=3))


def passkey_sign_count_only_grows():
    _, good = _passkey_sign_in()
    # the same sign-in, had it left the stored count where it was
    return good, replace(good, after=good.before)


def passwordless_sign_in_needs_no_mfa():
    _, good = _passkey_sign_in()
    # the same answer, had it led to SMS_MFA
    return good, replace(good, response={"ChallengeName": "SMS_MFA", "Session": "x" * 44, "ChallengeParameters": {}})


PASSWORDLESS_CASES = {case.__name__: case for case in (
    deleted_passkey_never_signs_in, otp_accepted_once_within_its_session_life, passkey_sign_count_only_grows,
    passwordless_sign_in_needs_no_mfa,
)}


@pytest.mark.parametrize("name", sorted(PASSWORDLESS_CASES))
def test_each_law_accepts_the_real_step_and_catches_the_bad_one(name):
    good, bad = PASSWORDLESS_CASES[name]()
    assert check(good) == [], check(good)
    assert [v.invariant for v in check(bad, [name])] == [name]
