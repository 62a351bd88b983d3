"""Bugs found by the security review of the new flows (USER_SRP_AUTH, CUSTOM_AUTH,
CustomMessage, code-request limits, PreventUserExistenceErrors). Each test states the
behaviour authflow should have; each was a strict xfail until its fix landed."""

from __future__ import annotations

import pytest

from authflow.conformance.srp_client import SrpClient
from authflow.core.codes import MAX_ATTEMPTS, REQUEST_LIMIT
from authflow.errors import CodeMismatchException, LimitExceededException
from tests.signin import NEW, Env, assert_tokens, refused
from tests.unit.test_custom_auth import (
    QUESTIONS,
    Quiz,
    SrpQuiz,
    confirmed,
    prove,
    quiz_env,
    reply,
    srp_start,
    start,
)
from tests.unit.test_srp import Srp
from tests.unit.test_triggers import TriggerEnv

SESSION_USED = "Invalid session for the user, session can only be used once."
INVALID_SESSION = "Invalid session for the user."
EMAIL = "alice@example.com"
VERIFIED_EMAIL = [{"Name": "email", "Value": EMAIL}, {"Name": "email_verified", "Value": "true"}]
HIDDEN = {"PreventUserExistenceErrors": "ENABLED"}


# -- 1. SECRET_BLOCK single use: the used-record is keyed by the block's *text* ------------------


@pytest.mark.parametrize("suffix", ["=", "==", "====="])
def test_a_used_secret_block_cannot_be_replayed_with_extra_base64_padding(suffix):
    t = Srp()
    t.confirmed()
    srp, started = t.start()
    answer = t.claim(srp, started, NEW)
    assert_tokens(t.respond(answer))
    refused(t.errors.NotAuthorizedException, SESSION_USED, t.respond, answer)  # the plain replay is caught
    padded = dict(answer, PASSWORD_CLAIM_SECRET_BLOCK=answer["PASSWORD_CLAIM_SECRET_BLOCK"] + suffix)
    with pytest.raises(t.errors.NotAuthorizedException):
        t.respond(padded)  # today: a second AuthenticationResult from the same proof


def test_a_used_secret_block_cannot_be_replayed_with_non_canonical_trailing_bits():
    import base64

    t = Srp()
    name = "a" * 128  # the sealed block grows to 2,087 bytes: base64 ends in one '='
    t.confirmed(name)
    srp, started = t.start(name)
    answer = t.claim(srp, started, NEW)
    text = answer["PASSWORD_CLAIM_SECRET_BLOCK"]
    assert text.endswith("=") and not text.endswith("==")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = alphabet.index(text[-2])
    twin = text[:-2] + alphabet[last ^ 1] + "="
    assert twin != text and base64.b64decode(twin) == base64.b64decode(text)
    assert_tokens(t.respond(answer))
    with pytest.raises(t.errors.NotAuthorizedException):
        t.respond(dict(answer, PASSWORD_CLAIM_SECRET_BLOCK=twin))


def test_a_custom_flows_password_proof_cannot_be_replayed_with_extra_padding():
    env, _, pool, app = quiz_env(SrpQuiz())
    confirmed(env, pool)
    srp = SrpClient(pool, 0xC0FFEE)
    started = srp_start(env, app, srp)
    responses = srp.answer(started["ChallengeParameters"], NEW, env.clock.now())
    first = env.client.respond_to_auth_challenge(ClientId=app, ChallengeName="PASSWORD_VERIFIER",
                                                 ChallengeResponses=responses)
    assert first["ChallengeName"] == "CUSTOM_CHALLENGE"
    padded = dict(responses, PASSWORD_CLAIM_SECRET_BLOCK=responses["PASSWORD_CLAIM_SECRET_BLOCK"] + "=")
    with pytest.raises(env.client.exceptions.NotAuthorizedException):
        env.client.respond_to_auth_challenge(ClientId=app, ChallengeName="PASSWORD_VERIFIER",
                                             ChallengeResponses=padded)


# -- 2. PreventUserExistenceErrors=ENABLED: simulated SRP challenges name the user differently ------


def test_srp_user_id_does_not_tell_a_real_email_alias_from_an_unknown_one():
    t = Srp(pool_kwargs={"AliasAttributes": ["email"]}, app_kwargs=HIDDEN)
    t.confirmed("alice", attributes=VERIFIED_EMAIL)
    real = t.start(EMAIL)[1]["ChallengeParameters"]
    fake = t.start("nobody@example.com")[1]["ChallengeParameters"]
    assert (real["USER_ID_FOR_SRP"] == EMAIL) == (fake["USER_ID_FOR_SRP"] == "nobody@example.com")


def test_srp_user_id_does_not_tell_a_real_name_typed_in_another_case():
    t = Srp(pool_kwargs={"UsernameConfiguration": {"CaseSensitive": False}}, app_kwargs=HIDDEN)
    t.confirmed("alice")
    real = t.start("ALICE")[1]["ChallengeParameters"]
    fake = t.start("NOBODY")[1]["ChallengeParameters"]
    assert (real["USER_ID_FOR_SRP"] == "ALICE") == (fake["USER_ID_FOR_SRP"] == "NOBODY")


# -- 3. PreventUserExistenceErrors=ENABLED: CUSTOM_CHALLENGE's USERNAME ----------------------------


def _custom_env(pool_kwargs: dict):
    quiz = Quiz()
    env = TriggerEnv(DefineAuthChallenge=quiz.define, CreateAuthChallenge=quiz.create,
                     VerifyAuthChallengeResponse=quiz.verify)
    pool = env.pool(**pool_kwargs)
    return env, pool, env.app_id(pool, **HIDDEN)


CUSTOM_LEAKS = {
    # pool, how the user is created, the name a caller types for them, an unknown name of the same shape
    "username-attribute email": ({"UsernameAttributes": ["email"]}, EMAIL, [], EMAIL, "nobody@example.com"),
    "email alias": ({"AliasAttributes": ["email"]}, "alice", VERIFIED_EMAIL, EMAIL, "nobody@example.com"),
    "case-insensitive": ({"UsernameConfiguration": {"CaseSensitive": False}}, "alice", [], "ALICE", "NOBODY"),
}


@pytest.mark.parametrize("case", CUSTOM_LEAKS)
def test_custom_challenge_username_does_not_tell_real_users_from_unknown_names(case):
    pool_kwargs, username, attributes, typed_real, typed_fake = CUSTOM_LEAKS[case]
    env, pool, app = _custom_env(pool_kwargs)
    env.user(pool, username, attributes=attributes, password=None)
    real = start(env, app, typed_real)["ChallengeParameters"]["USERNAME"]
    fake = start(env, app, typed_fake)["ChallengeParameters"]["USERNAME"]
    assert (real == typed_real) == (fake == typed_fake)


# -- 4. CUSTOM_AUTH: a password proof outlives the password it proved --------------------------------


def test_custom_rounds_after_a_password_proof_stop_when_the_password_is_replaced():
    env, _, pool, app = quiz_env(SrpQuiz())
    confirmed(env, pool)
    srp = SrpClient(pool, 0xC0FFEE)
    response = prove(env, app, srp_start(env, app, srp), srp)
    assert response["ChallengeName"] == "CUSTOM_CHALLENGE"
    # The administrator replaces the (say, leaked) password while the attacker is mid-flow.
    env.client.admin_set_user_password(UserPoolId=pool, Username="alice", Password="Replaced1!x", Permanent=True)
    with pytest.raises(env.client.exceptions.NotAuthorizedException):
        for _, answer in QUESTIONS:
            response = reply(env, app, response, answer)


# -- 5. CUSTOM_AUTH under ENABLED: RESET_REQUIRED refused before any challenge ------------------------


def test_custom_auth_does_not_single_out_reset_required_users_under_enabled():
    env, pool, app = _custom_env({"AutoVerifiedAttributes": ["email"]})
    env.user(pool, "alice", attributes=VERIFIED_EMAIL, password=None)
    env.client.admin_set_user_password(UserPoolId=pool, Username="alice", Password=NEW, Permanent=True)
    env.client.admin_reset_user_password(UserPoolId=pool, Username="alice")
    assert start(env, app, "nobody")["ChallengeName"] == "CUSTOM_CHALLENGE"
    assert start(env, app, "alice")["ChallengeName"] == "CUSTOM_CHALLENGE"


# -- 6. ForgotPassword under ENABLED --------------------------------------------------------------------


def _recoverable(env: Env, pool: str, username: str = "alice") -> None:
    env.user(pool, username, attributes=VERIFIED_EMAIL, password=None)
    env.client.admin_set_user_password(UserPoolId=pool, Username=username, Password=NEW, Permanent=True)


def test_simulated_forgot_password_delivery_is_stable_across_case():
    env = Env()
    pool = env.pool(AutoVerifiedAttributes=["email"], UsernameConfiguration={"CaseSensitive": False})
    app = env.app_id(pool, **HIDDEN)
    _recoverable(env, pool)

    def destination(name):
        return env.client.forgot_password(ClientId=app, Username=name)["CodeDeliveryDetails"]

    assert destination("alice") == destination("ALICE")  # holds today
    assert destination("nobody") == destination("NOBODY")


def test_the_forgot_password_quota_does_not_tell_real_users_from_unknown_names():
    env = Env()
    pool = env.pool(AutoVerifiedAttributes=["email"])
    app = env.app_id(pool, **HIDDEN)
    _recoverable(env, pool)

    def sixth(name):
        for _ in range(REQUEST_LIMIT):
            env.client.forgot_password(ClientId=app, Username=name)
        try:
            env.client.forgot_password(ClientId=app, Username=name)
        except LimitExceededException:
            return "limited"
        return "delivered"

    assert sixth("alice") == sixth("nobody")


# -- 7. UpdateUserAttributes issues codes outside the hourly quota ---------------------------------------


@pytest.mark.parametrize("held", [True, False], ids=["held-update", "alternating-values"])
def test_guesses_at_an_attribute_code_stay_within_the_hourly_bound(held):
    env = Env()
    settings = {"UserAttributeUpdateSettings": {"AttributesRequireVerificationBeforeUpdate": ["email"]}} if held else {}
    pool = env.pool(AliasAttributes=["email"], AutoVerifiedAttributes=["email"], **settings)
    app = env.app_id(pool)
    _recoverable(env, pool)
    access = env.initiate(app, "alice", NEW)["AuthenticationResult"]["AccessToken"]
    target = "victim@example.com"
    evaluated = 0
    guess = 0
    for _ in range(REQUEST_LIMIT + 2):
        try:
            if not held:
                env.client.update_user_attributes(AccessToken=access,
                                                  UserAttributes=[{"Name": "email", "Value": "x@example.com"}])
            env.client.update_user_attributes(AccessToken=access, UserAttributes=[{"Name": "email", "Value": target}])
        except LimitExceededException:
            break
        for _ in range(MAX_ATTEMPTS):
            try:
                env.client.verify_user_attribute(AccessToken=access, AttributeName="email", Code=f"{guess:06d}")
            except CodeMismatchException:
                evaluated += 1
            except Exception:  # noqa: BLE001 -- any other refusal is not an evaluated guess
                pass
            guess += 1
    assert evaluated <= REQUEST_LIMIT * MAX_ATTEMPTS
