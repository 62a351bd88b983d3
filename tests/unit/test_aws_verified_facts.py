"""What moto 5.2.5's `aws_verified` tests (run against real AWS) assert, through the public
Client: the facts of issue 22 Part A that specs/scenarios/aws-verified.yaml cannot state
(claims compared across tokens, values read back) and the verification flags in any case."""

from __future__ import annotations

import uuid

import jwt
import pytest

from tests.signin import Env, secret_hash


def claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


# -- jti / origin_jti / scope (test_jti_in_tokens, test_scope_in_access_token) -----------------------


def test_jti_is_per_token_and_origin_jti_per_sign_in():
    env = Env()
    pool = env.pool()
    app = env.app(pool, GenerateSecret=True)  # token revocation on: the default
    env.user(pool)
    sh = secret_hash(app["ClientSecret"], "alice", app["ClientId"])
    started = env.admin_initiate(pool, app["ClientId"], SECRET_HASH=sh)
    env.admin_respond(pool, app["ClientId"], started["Session"],
                      {"USERNAME": "alice", "NEW_PASSWORD": "NewPass1!x", "SECRET_HASH": sh})
    first = env.initiate(app["ClientId"], password="NewPass1!x",
                         SECRET_HASH=secret_hash(app["ClientSecret"], "alice", app["ClientId"]))
    result = first["AuthenticationResult"]
    access, id_ = claims(result["AccessToken"]), claims(result["IdToken"])
    assert uuid.UUID(access["jti"]) and uuid.UUID(id_["jti"])
    assert access["jti"] != id_["jti"]
    assert uuid.UUID(access["origin_jti"]) and access["origin_jti"] == id_["origin_jti"]
    assert access["scope"] == "aws.cognito.signin.user.admin"

    refreshed = env.client.initiate_auth(
        ClientId=app["ClientId"], AuthFlow="REFRESH_TOKEN",
        AuthParameters={"REFRESH_TOKEN": result["RefreshToken"],
                        "SECRET_HASH": secret_hash(app["ClientSecret"], "alice", app["ClientId"])},
    )["AuthenticationResult"]
    r_access, r_id = claims(refreshed["AccessToken"]), claims(refreshed["IdToken"])
    assert r_access["origin_jti"] == r_id["origin_jti"] == access["origin_jti"]
    assert len({access["jti"], id_["jti"], r_access["jti"], r_id["jti"]}) == 4

    again = env.initiate(app["ClientId"], password="NewPass1!x",
                         SECRET_HASH=secret_hash(app["ClientSecret"], "alice", app["ClientId"]))
    n_access = claims(again["AuthenticationResult"]["AccessToken"])
    assert n_access["origin_jti"] != access["origin_jti"]


def test_without_token_revocation_tokens_carry_no_jti():
    # AWS: "When you enable token revocation ... origin_jti and jti claims are added" (developer guide).
    env = Env()
    pool = env.pool()
    app = env.app_id(pool, EnableTokenRevocation=False)
    env.user(pool)
    result = env.confirm(pool, app)["AuthenticationResult"]
    for token in (result["AccessToken"], result["IdToken"]):
        assert "jti" not in claims(token) and "origin_jti" not in claims(token)
    assert claims(result["AccessToken"])["scope"] == "aws.cognito.signin.user.admin"


# -- the verification flags in any case (test_forgot_password_with_email_delivery_details) ----------


@pytest.mark.parametrize("written", ["True", "TRUE", "tRuE"])
def test_verified_flag_true_in_any_case_verifies_and_reads_back_as_written(written):
    env = Env()
    pool = env.pool(AliasAttributes=["email"],
                    AccountRecoverySetting={"RecoveryMechanisms": [{"Name": "verified_email", "Priority": 1}]})
    app = env.app_id(pool)
    env.user(pool, attributes=[{"Name": "email", "Value": "test@test.com"},
                               {"Name": "email_verified", "Value": written}])
    assert env.attributes(pool)["email_verified"] == written  # kept as written, as AWS does
    env.confirm(pool, app)
    # verified: the email is an alias, the token says true, ForgotPassword reaches it
    result = env.initiate(app, "test@test.com", "NewPass1!x")["AuthenticationResult"]
    assert claims(result["IdToken"])["email_verified"] is True
    delivery = env.client.forgot_password(ClientId=app, Username="alice")["CodeDeliveryDetails"]
    assert delivery == {"Destination": "t***@t***", "DeliveryMedium": "EMAIL", "AttributeName": "email"}


@pytest.mark.parametrize("written", ["False", "FALSE"])
def test_verified_flag_false_in_any_case_is_accepted_and_not_verified(written):
    env = Env()
    pool = env.pool(AliasAttributes=["email"])
    app = env.app_id(pool)
    env.user(pool, attributes=[{"Name": "email", "Value": "a@example.com"},
                               {"Name": "email_verified", "Value": written}])
    env.confirm(pool, app)
    result = env.initiate(app, "alice", "NewPass1!x")["AuthenticationResult"]
    assert claims(result["IdToken"])["email_verified"] is False
    with pytest.raises(env.client.exceptions.UserNotFoundException):
        env.initiate(app, "a@example.com", "NewPass1!x")  # not an alias: not verified


def test_verified_flag_other_words_are_still_refused():
    env = Env()
    pool = env.pool()
    before = env.snapshot()
    with pytest.raises(env.client.exceptions.InvalidParameterException) as err:
        env.user(pool, attributes=[{"Name": "email", "Value": "a@example.com"},
                                   {"Name": "email_verified", "Value": "yes"}])
    assert "Value must be either true or false" in err.value.message
    assert env.snapshot() == before


def test_capitalised_true_without_its_value_is_refused():
    env = Env()
    pool = env.pool()
    with pytest.raises(env.client.exceptions.InvalidParameterException) as err:
        env.user(pool, attributes=[{"Name": "email_verified", "Value": "True"}])
    assert err.value.message == "Cannot set email_verified to true without a value for email."


# -- the masked destination (test_sign_up_with_verified_email) ---------------------------------------


@pytest.mark.parametrize("email, masked", [("test@test.com", "t***@t***"), ("a@b.co", "a***@b***"),
                                           ("longer.name@example.org", "l***@e***")])
def test_sign_up_masks_the_email_as_aws_does(email, masked):
    env = Env()
    pool = env.pool(AutoVerifiedAttributes=["email"])
    app = env.app_id(pool)
    response = env.client.sign_up(ClientId=app, Username="alice", Password="P2$Sword",
                                  UserAttributes=[{"Name": "email", "Value": email}])
    assert response["CodeDeliveryDetails"] == {"Destination": masked, "DeliveryMedium": "EMAIL",
                                               "AttributeName": "email"}
