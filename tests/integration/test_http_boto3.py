"""boto3 against the served app (`authflow serve`'s Starlette app on a loopback port).

What these tests pin: the seed's whole flow works over real HTTP with an unmodified
boto3 client; responses (dates included) equal what the in-process engine returns;
every error class leaves the server with the name, message and HTTP status botocore
needs to raise the right exception; SigV4 is enforced exactly for signed operations;
the JSON 1.1 front end refuses malformed requests as AWS does; the public JWKS and
discovery URLs serve what tokens are verified against.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import timedelta

import boto3
import botocore.session
import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

import authflow
from authflow import errors
from authflow.service.registry import OPERATIONS, load_all
from authflow.wire.protocol import MAX_BODY_BYTES
from tests.helpers import store_contents
from tests.http import KEY_ID, REGION, SECRET, serving

TEMP = "Temp1234!"
TEMP2 = "Resent-Temp-9"
NEW = "NewPass1!x"
FLOWS = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
JSON_TYPE = "application/x-amz-json-1.1"
TARGET = "AWSCognitoIdentityProviderService."
AWS_ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/{}"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")

#: Error shapes botocore's cognito-idp model knows.
MODEL_ERRORS = frozenset(
    shape.name for shape in botocore.session.get_session().get_service_model("cognito-idp").error_shapes
)
#: Errors the AWS front end raises, outside the Cognito model.
FRONT_END = {
    "UnknownOperationException", "SerializationException", "MissingAuthenticationTokenException",
    "IncompleteSignatureException", "UnrecognizedClientException", "InvalidSignatureException",
}



# -- helpers ---------------------------------------------------------------------------------


def strip(response: dict) -> dict:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


def headers_of(response: dict) -> dict:
    return response["ResponseMetadata"]["HTTPHeaders"]


def attrs(items: list[dict]) -> dict[str, str]:
    return {a["Name"]: a["Value"] for a in items}


def raw(server, target: str | None, body: bytes | str, content_type: str | None = JSON_TYPE, **kwargs):
    """One raw POST / (no signature)."""
    headers = {}
    if target is not None:
        headers["X-Amz-Target"] = TARGET + target if "." not in target else target
    if content_type is not None:
        headers["Content-Type"] = content_type
    headers.update(kwargs.pop("headers", {}))
    return httpx.post(server.url + "/", content=body, headers=headers, **kwargs)


def assert_wire_error(response: httpx.Response, code: str, message: str | re.Pattern, status: int = 400) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["__type"] == code
    if isinstance(message, re.Pattern):
        assert message.fullmatch(body["message"]), body["message"]
    else:
        assert body["message"] == message
    assert response.headers["x-amzn-errortype"] == f"{code}:"
    assert UUID_RE.match(response.headers["x-amzn-requestid"])


def same_error(local_call, remote_call, code: str, message: str | None = None) -> ClientError:
    """The in-process Client and boto3 over HTTP refuse alike: same name, message, status."""
    with pytest.raises(errors.CognitoError) as local:
        local_call()
    assert type(local.value).__name__ == code
    with pytest.raises(ClientError) as remote:
        remote_call()
    assert remote.value.response["Error"] == {"Code": code, "Message": local.value.message}
    assert remote.value.response["ResponseMetadata"]["HTTPStatusCode"] == local.value.http_status
    if message is not None:
        assert local.value.message == message
    return remote.value


def no_retry_client(server, *, region: str = REGION, **config):
    """A signed boto3 client making exactly one attempt per call. (`Server.boto3` sets
    retries max_attempts=1, which botocore reads as one *retry*: two attempts.)"""
    return boto3.session.Session(aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET, region_name=region).client(
        "cognito-idp", endpoint_url=server.url,
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}, **config))


def fetch_json(url: str) -> dict:
    response = httpx.get(url)
    assert response.status_code == 200, response.text
    assert UUID_RE.match(response.headers["x-amzn-requestid"])
    return response.json()


def setup_pool(cognito) -> tuple[str, str]:
    pool = cognito.create_user_pool(PoolName="seed", AliasAttributes=["email"])["UserPool"]["Id"]
    client_id = cognito.create_user_pool_client(
        UserPoolId=pool, ClientName="app", ExplicitAuthFlows=FLOWS
    )["UserPoolClient"]["ClientId"]
    return pool, client_id


def create_user(cognito, pool: str, username: str = "alice", email: str | None = None) -> dict:
    attributes = []
    if email:
        attributes = [{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}]
    return cognito.admin_create_user(
        UserPoolId=pool, Username=username, TemporaryPassword=TEMP, UserAttributes=attributes,
        MessageAction="SUPPRESS",
    )["User"]


def sign_in(cognito, pool: str, client_id: str, username: str = "alice") -> dict:
    """First sign-in (NEW_PASSWORD_REQUIRED answered); returns the AuthenticationResult."""
    started = cognito.admin_initiate_auth(
        UserPoolId=pool, ClientId=client_id, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": TEMP},
    )
    return cognito.admin_respond_to_auth_challenge(
        UserPoolId=pool, ClientId=client_id, ChallengeName="NEW_PASSWORD_REQUIRED", Session=started["Session"],
        ChallengeResponses={"USERNAME": username, "NEW_PASSWORD": NEW},
    )["AuthenticationResult"]


# -- the seed's flow -----------------------------------------------------------------------


def test_pool_configuration_round_trips_and_matches_the_engine():
    """CreateUserPool / DescribeUserPool / UpdateUserPool over HTTP: the legacy
    UnusedAccountValidityDays and TemporaryPasswordValidityDays land where Cognito shows
    them, and every response equals the in-process engine's, dates to the millisecond."""
    with serving() as server:
        cognito = server.boto3()
        server.clock.advance(timedelta(microseconds=123_456))  # a date with a millisecond fraction
        created = cognito.create_user_pool(
            PoolName="seed",
            AliasAttributes=["email"],
            AdminCreateUserConfig={"AllowAdminCreateUserOnly": True, "UnusedAccountValidityDays": 5},
        )
        pool = created["UserPool"]
        assert created["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert pool["AliasAttributes"] == ["email"]
        assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
        assert pool["AdminCreateUserConfig"]["UnusedAccountValidityDays"] == 5
        assert pool["Policies"]["PasswordPolicy"]["TemporaryPasswordValidityDays"] == 5
        assert pool["CreationDate"].microsecond == 123_000
        assert pool["CreationDate"].tzinfo is not None

        described = cognito.describe_user_pool(UserPoolId=pool["Id"])
        local = server.client.describe_user_pool(UserPoolId=pool["Id"])
        assert strip(described) == strip(local)
        assert described["UserPool"]["CreationDate"] == local["UserPool"]["CreationDate"] == pool["CreationDate"]

        server.clock.advance(timedelta(seconds=2, microseconds=987_654))
        updated = cognito.update_user_pool(
            UserPoolId=pool["Id"],
            Policies={"PasswordPolicy": {"MinimumLength": 8, "RequireNumbers": True,
                                         "TemporaryPasswordValidityDays": 9}},
            AdminCreateUserConfig={"AllowAdminCreateUserOnly": False},
        )
        assert strip(updated) == {}
        after = cognito.describe_user_pool(UserPoolId=pool["Id"])["UserPool"]
        assert after["Policies"]["PasswordPolicy"]["TemporaryPasswordValidityDays"] == 9
        assert after["Policies"]["PasswordPolicy"]["RequireNumbers"] is True
        assert after["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is False
        assert after["AdminCreateUserConfig"]["UnusedAccountValidityDays"] == 9
        assert after["LastModifiedDate"] == server.client.describe_user_pool(
            UserPoolId=pool["Id"])["UserPool"]["LastModifiedDate"]
        assert after["LastModifiedDate"].microsecond == 111_000  # .123456 + 2.987654 s = 3.111110 s
        assert after["CreationDate"] == pool["CreationDate"]

        # Both validity members at once: Cognito's refusal, through the real engine.
        kwargs = dict(
            UserPoolId=pool["Id"],
            Policies={"PasswordPolicy": {"TemporaryPasswordValidityDays": 3}},
            AdminCreateUserConfig={"UnusedAccountValidityDays": 3},
        )
        same_error(
            lambda: server.client.update_user_pool(**kwargs), lambda: cognito.update_user_pool(**kwargs),
            "InvalidParameterException",
            "Please use TemporaryPasswordValidityDays in PasswordPolicy instead of UnusedAccountValidityDays",
        )


@pytest.mark.parametrize("admin", [False, True], ids=["user-api", "admin-api"])
def test_seed_flow_over_http(admin):
    """AdminCreateUser (SUPPRESS, RESEND, ForceAliasCreation, EMAIL), AdminGetUser,
    sign-in with the email alias -> NEW_PASSWORD_REQUIRED -> tokens, refresh, GetUser,
    GlobalSignOut, with tokens verified against the JWKS fetched over HTTP."""
    with serving() as server:
        cognito = server.boto3()
        pool, client_id = setup_pool(cognito)

        # A decoy holds the email alias first; alice takes it over with ForceAliasCreation.
        create_user(cognito, pool, "decoy", email="alice@example.com")
        email = [{"Name": "email", "Value": "alice@example.com"}, {"Name": "email_verified", "Value": "true"}]
        refusal = dict(UserPoolId=pool, Username="alice", TemporaryPassword=TEMP, UserAttributes=email,
                       MessageAction="SUPPRESS")
        same_error(lambda: server.client.admin_create_user(**refusal),
                   lambda: cognito.admin_create_user(**refusal), "AliasExistsException")
        created = cognito.admin_create_user(**refusal, ForceAliasCreation=True)
        user = created["User"]
        assert user["Username"] == "alice" and user["UserStatus"] == "FORCE_CHANGE_PASSWORD"
        assert user["Enabled"] is True
        assert attrs(user["Attributes"])["email"] == "alice@example.com"
        assert server.outbox.messages == []  # SUPPRESS
        decoy = cognito.admin_get_user(UserPoolId=pool, Username="decoy")
        assert strip(decoy) == strip(server.client.admin_get_user(UserPoolId=pool, Username="decoy"))

        # RESEND with a new temporary password, delivered by EMAIL.
        resent = cognito.admin_create_user(
            UserPoolId=pool, Username="alice", MessageAction="RESEND", TemporaryPassword=TEMP2,
            DesiredDeliveryMediums=["EMAIL"],
        )["User"]
        assert resent["UserStatus"] == "FORCE_CHANGE_PASSWORD"
        (message,) = server.outbox.messages
        assert message.medium == "EMAIL" and message.destination == "alice@example.com"
        assert TEMP2 in message.body

        got = cognito.admin_get_user(UserPoolId=pool, Username="alice")
        assert strip(got) == strip(server.client.admin_get_user(UserPoolId=pool, Username="alice"))
        assert got["UserCreateDate"] == user["UserCreateDate"]
        # The alias resolves to alice now.
        assert cognito.admin_get_user(UserPoolId=pool, Username="alice@example.com")["Username"] == "alice"

        scope = {"UserPoolId": pool} if admin else {}
        initiate = cognito.admin_initiate_auth if admin else cognito.initiate_auth
        respond = cognito.admin_respond_to_auth_challenge if admin else cognito.respond_to_auth_challenge
        flow = "ADMIN_USER_PASSWORD_AUTH" if admin else "USER_PASSWORD_AUTH"

        with pytest.raises(cognito.exceptions.NotAuthorizedException) as wrong:
            initiate(**scope, ClientId=client_id, AuthFlow=flow,
                     AuthParameters={"USERNAME": "alice@example.com", "PASSWORD": TEMP})  # replaced by RESEND
        assert wrong.value.response["Error"]["Message"] == "Incorrect username or password."
        assert wrong.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400

        started = initiate(**scope, ClientId=client_id, AuthFlow=flow,
                           AuthParameters={"USERNAME": "alice@example.com", "PASSWORD": TEMP2})
        assert started["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
        assert "AuthenticationResult" not in started
        assert started["ChallengeParameters"]["USER_ID_FOR_SRP"] == "alice"
        assert json.loads(started["ChallengeParameters"]["userAttributes"])["email"] == "alice@example.com"
        assert headers_of(started)["cache-control"] == "no-store"

        done = respond(**scope, ClientId=client_id, ChallengeName="NEW_PASSWORD_REQUIRED",
                       Session=started["Session"],
                       ChallengeResponses={"USERNAME": "alice@example.com", "NEW_PASSWORD": NEW})
        assert headers_of(done)["cache-control"] == "no-store"
        result = done["AuthenticationResult"]
        assert result["TokenType"] == "Bearer" and result["ExpiresIn"] == 3600
        assert cognito.admin_get_user(UserPoolId=pool, Username="alice")["UserStatus"] == "CONFIRMED"

        jwks = fetch_json(f"{server.url}/{pool}/.well-known/jwks.json")
        assert jwks == server.client.get_jwks(UserPoolId=pool)
        issuer = AWS_ISSUER.format(pool)
        now = server.client.engine.now()
        id_claims = authflow.tokens.verify(result["IdToken"], jwks, issuer=issuer, client_id=client_id,
                                           token_use="id", now=now)
        access_claims = authflow.tokens.verify(result["AccessToken"], jwks, issuer=issuer, client_id=client_id,
                                               token_use="access", now=now, engine=server.client)
        assert id_claims["cognito:username"] == "alice" and id_claims["email"] == "alice@example.com"
        assert id_claims["iss"] == issuer and access_claims["username"] == "alice"
        assert id_claims["sub"] == attrs(got["UserAttributes"])["sub"] == access_claims["sub"]

        me = cognito.get_user(AccessToken=result["AccessToken"])
        assert me["Username"] == "alice"
        assert attrs(me["UserAttributes"]) == attrs(
            cognito.admin_get_user(UserPoolId=pool, Username="alice")["UserAttributes"])

        refreshed = initiate(**scope, ClientId=client_id, AuthFlow="REFRESH_TOKEN_AUTH",
                             AuthParameters={"REFRESH_TOKEN": result["RefreshToken"]})
        assert headers_of(refreshed)["cache-control"] == "no-store"
        fresh = refreshed["AuthenticationResult"]
        assert "RefreshToken" not in fresh
        assert authflow.tokens.verify(fresh["IdToken"], jwks, issuer=issuer, client_id=client_id,
                                      token_use="id", now=now)["origin_jti"] == id_claims["origin_jti"]

        signed_out = cognito.global_sign_out(AccessToken=fresh["AccessToken"])
        assert strip(signed_out) == {}
        with pytest.raises(cognito.exceptions.NotAuthorizedException) as revoked:
            cognito.get_user(AccessToken=result["AccessToken"])
        assert revoked.value.response["Error"]["Message"] == "Access Token has been revoked"
        with pytest.raises(cognito.exceptions.NotAuthorizedException) as gone:
            initiate(**scope, ClientId=client_id, AuthFlow="REFRESH_TOKEN_AUTH",
                     AuthParameters={"REFRESH_TOKEN": result["RefreshToken"]})
        assert gone.value.response["Error"]["Message"] == "Refresh Token has been revoked"
        with pytest.raises(errors.NotAuthorizedException, match="^Access Token has been revoked$"):
            authflow.tokens.verify(result["AccessToken"], jwks, issuer=issuer, client_id=client_id,
                                   token_use="access", now=now, engine=server.client)


def test_list_users_filter_attributes_and_pagination_over_http():
    """ListUsers: Filter, AttributesToGet and Limit work over HTTP, PaginationToken
    round-trips through boto3 (and its paginator), and pages equal the engine's."""
    with serving() as server:
        cognito = server.boto3()
        pool, _ = setup_pool(cognito)
        for name in ("amy", "andy", "anna", "bob"):
            create_user(cognito, pool, name, email=f"{name}@example.com")

        filtered = cognito.list_users(UserPoolId=pool, Filter='email ^= "an"', AttributesToGet=["email"])
        assert sorted(u["Username"] for u in filtered["Users"]) == ["andy", "anna"]
        for user in filtered["Users"]:
            assert [a["Name"] for a in user["Attributes"]] == ["email"]
        assert strip(filtered) == strip(server.client.list_users(
            UserPoolId=pool, Filter='email ^= "an"', AttributesToGet=["email"]))

        everyone = server.client.list_users(UserPoolId=pool)["Users"]
        pages, token = [], None
        while True:
            kwargs = {"PaginationToken": token} if token else {}
            page = cognito.list_users(UserPoolId=pool, Limit=1, **kwargs)
            assert strip(page) == strip(server.client.list_users(UserPoolId=pool, Limit=1, **kwargs))
            assert len(page["Users"]) <= 1
            pages.extend(page["Users"])
            token = page.get("PaginationToken")
            if not token:
                break
        assert pages == everyone
        assert len(pages) == 4

        paginated = [
            u["Username"]
            for page in cognito.get_paginator("list_users").paginate(UserPoolId=pool, PaginationConfig={"PageSize": 2})
            for u in page["Users"]
        ]
        assert paginated == [u["Username"] for u in everyone]

        same_error(lambda: server.client.list_users(UserPoolId=pool, PaginationToken="bogus"),
                   lambda: cognito.list_users(UserPoolId=pool, PaginationToken="bogus"),
                   "InvalidParameterException")


def test_local_issuer_and_discovery_document():
    """With issuer style local, tokens' iss is <server URL>/<poolId>, and the discovery
    document's issuer and jwks_uri point at this server and verify the tokens."""
    with serving(issuer_style="local") as server:
        cognito = server.boto3()
        pool, client_id = setup_pool(cognito)
        create_user(cognito, pool)
        tokens = sign_in(cognito, pool, client_id)

        discovery = fetch_json(f"{server.url}/{pool}/.well-known/openid-configuration")
        assert discovery["issuer"] == f"{server.url}/{pool}"
        assert discovery["jwks_uri"] == f"{server.url}/{pool}/.well-known/jwks.json"
        jwks = fetch_json(discovery["jwks_uri"])
        claims = authflow.tokens.verify(tokens["IdToken"], jwks, issuer=discovery["issuer"], client_id=client_id,
                                        token_use="id", now=server.client.engine.now())
        assert claims["iss"] == f"{server.url}/{pool}"
        with pytest.raises(errors.NotAuthorizedException):
            authflow.tokens.verify(tokens["IdToken"], jwks, issuer=AWS_ISSUER.format(pool), client_id=client_id,
                                   token_use="id", now=server.client.engine.now())


def test_aws_issuer_discovery_document():
    """With issuer style aws, the discovery document names the AWS issuer and this
    server's JWKS URL, and the JWKS there equals the engine's."""
    with serving() as server:
        cognito = server.boto3()
        pool, _ = setup_pool(cognito)
        response = httpx.get(f"{server.url}/{pool}/.well-known/openid-configuration")
        assert response.status_code == 200
        assert response.json()["issuer"] == AWS_ISSUER.format(pool)
        assert response.json()["jwks_uri"] == f"{server.url}/{pool}/.well-known/jwks.json"
        jwks = fetch_json(response.json()["jwks_uri"])
        assert jwks == server.client.get_jwks(UserPoolId=pool)
        assert jwks["keys"] and all(k["kty"] == "RSA" and k["alg"] == "RS256" for k in jwks["keys"])


# -- headers -----------------------------------------------------------------------------


def test_every_response_carries_a_request_id():
    """x-amzn-RequestId on successes, errors, the GET routes and unknown routes; boto3
    surfaces it as the request id."""
    with serving() as server:
        cognito = server.boto3()
        pool, _ = setup_pool(cognito)
        ok = cognito.list_users(UserPoolId=pool)
        assert UUID_RE.match(headers_of(ok)["x-amzn-requestid"])
        assert ok["ResponseMetadata"]["RequestId"] == headers_of(ok)["x-amzn-requestid"]
        with pytest.raises(cognito.exceptions.UserNotFoundException) as err:
            cognito.admin_get_user(UserPoolId=pool, Username="nobody")
        metadata = err.value.response["ResponseMetadata"]
        assert UUID_RE.match(metadata["RequestId"])
        assert metadata["HTTPHeaders"]["x-amzn-requestid"] == metadata["RequestId"]
        assert metadata["HTTPHeaders"]["cache-control"] == "no-store"

        seen = {metadata["RequestId"], ok["ResponseMetadata"]["RequestId"]}
        for path, status in [
            ("/health", 200),
            (f"/{pool}/.well-known/jwks.json", 200),
            (f"/{pool}/.well-known/openid-configuration", 200),
            ("/us-east-1_Nope12345/.well-known/jwks.json", 404),
            ("/no/such/route", 404),
            ("/", 405),
        ]:
            response = httpx.get(server.url + path)
            assert response.status_code == status, path
            assert UUID_RE.match(response.headers["x-amzn-requestid"]), path
            seen.add(response.headers["x-amzn-requestid"])
        assert len(seen) == 8  # a fresh id each time


def test_token_bearing_responses_are_not_cacheable():
    """Cache-Control: no-store on every API response that carries tokens or sessions."""
    with serving() as server:
        cognito = server.boto3()
        pool, client_id = setup_pool(cognito)
        create_user(cognito, pool)
        started = cognito.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                                        AuthParameters={"USERNAME": "alice", "PASSWORD": TEMP})
        assert headers_of(started)["cache-control"] == "no-store"
        done = cognito.respond_to_auth_challenge(
            ClientId=client_id, ChallengeName="NEW_PASSWORD_REQUIRED", Session=started["Session"],
            ChallengeResponses={"USERNAME": "alice", "NEW_PASSWORD": NEW})
        assert headers_of(done)["cache-control"] == "no-store"
        again = cognito.admin_initiate_auth(UserPoolId=pool, ClientId=client_id, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                                            AuthParameters={"USERNAME": "alice", "PASSWORD": NEW})
        assert "AccessToken" in again["AuthenticationResult"]
        assert headers_of(again)["cache-control"] == "no-store"
        me = cognito.get_user(AccessToken=again["AuthenticationResult"]["AccessToken"])
        assert headers_of(me)["cache-control"] == "no-store"


# -- every error type ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared_server():
    with serving() as server:
        server.single = no_retry_client(server)  # one client for the whole module: clients are slow to make
        yield server


def test_every_modelled_error_has_a_class():
    """authflow can raise every error botocore's model names, plus the front end's."""
    assert MODEL_ERRORS <= set(errors.ERRORS)
    assert set(errors.ERRORS) - MODEL_ERRORS == FRONT_END


def raising(error: errors.CognitoError):
    def handler(engine, params):
        raise error

    return handler


@pytest.mark.parametrize("name", sorted(errors.ERRORS))
def test_error_round_trips_through_boto3(name, shared_server, monkeypatch):
    """Each error leaves the server so that boto3 raises the same exception with the
    exact message and HTTP status (500 only for the two faults)."""
    load_all()
    monkeypatch.setitem(OPERATIONS, "ListUserPools", raising(errors.ERRORS[name]("some message")))
    cognito = shared_server.single
    with pytest.raises(ClientError) as caught:
        cognito.list_user_pools(MaxResults=10)
    err = caught.value
    if name in MODEL_ERRORS:
        assert type(err) is getattr(cognito.exceptions, name)
    else:
        assert type(err) is ClientError
    assert err.response["Error"] == {"Code": name, "Message": "some message"}
    status = 500 if name in ("InternalErrorException", "InternalServerException") else 400
    assert err.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert err.response["ResponseMetadata"]["RetryAttempts"] == 0
    assert err.response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"] == f"{name}:"
    assert err.response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errormessage"] == "some message"


@pytest.mark.parametrize("message", [
    "Ünïcödé ✓ message", "two\nlines", "tab\there", "",
    "trailing space ", " leading space",
])
def test_error_messages_survive_unicode_and_control_characters(message, shared_server, monkeypatch):
    """Messages that cannot be an HTTP header still reach boto3 intact (from the body)."""
    load_all()
    monkeypatch.setitem(OPERATIONS, "ListUserPools", raising(errors.NotAuthorizedException(message)))
    cognito = shared_server.single
    with pytest.raises(cognito.exceptions.NotAuthorizedException) as caught:
        cognito.list_user_pools(MaxResults=10)
    assert caught.value.response["Error"] == {"Code": "NotAuthorizedException", "Message": message}


def test_unexpected_exception_is_internal_error_500(shared_server, monkeypatch):
    """A bug in a handler becomes InternalErrorException, HTTP 500, naming the request id
    and leaking nothing of the exception."""
    load_all()
    monkeypatch.setitem(OPERATIONS, "ListUserPools", raising(RuntimeError("secret detail")))
    cognito = shared_server.single
    with pytest.raises(cognito.exceptions.InternalErrorException) as caught:
        cognito.list_user_pools(MaxResults=10)
    metadata = caught.value.response["ResponseMetadata"]
    assert metadata["HTTPStatusCode"] == 500
    assert metadata["RetryAttempts"] == 0
    # The message names the request id the response carries (the one the log line has).
    assert caught.value.response["Error"]["Message"] == f"Internal server error. Request id {metadata['RequestId']}"
    assert UUID_RE.match(metadata["RequestId"])


def test_list_user_pools_works_after_patching(shared_server):
    """The monkeypatched handler is restored: the real ListUserPools answers again."""
    assert shared_server.boto3().list_user_pools(MaxResults=10)["UserPools"] == []


# -- real errors through the real engine ------------------------------------------------------


def test_real_errors_carry_cognitos_messages():
    """Errors from the engine reach boto3 with exactly the in-process Client's name,
    message and status."""
    with serving() as server:
        cognito = server.boto3()
        local = server.client
        pool, client_id = setup_pool(cognito)
        create_user(cognito, pool)

        err = same_error(lambda: local.admin_get_user(UserPoolId=pool, Username="nobody"),
                         lambda: cognito.admin_get_user(UserPoolId=pool, Username="nobody"),
                         "UserNotFoundException", "User does not exist.")
        assert isinstance(err, cognito.exceptions.UserNotFoundException)

        kwargs = dict(UserPoolId=pool, Username="alice", TemporaryPassword=TEMP, MessageAction="SUPPRESS")
        err = same_error(lambda: local.admin_create_user(**kwargs), lambda: cognito.admin_create_user(**kwargs),
                         "UsernameExistsException", "User account already exists")
        assert isinstance(err, cognito.exceptions.UsernameExistsException)

        auth = dict(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                    AuthParameters={"USERNAME": "alice", "PASSWORD": "Wrong-pass-1"})
        err = same_error(lambda: local.initiate_auth(**auth), lambda: cognito.initiate_auth(**auth),
                         "NotAuthorizedException", "Incorrect username or password.")
        assert isinstance(err, cognito.exceptions.NotAuthorizedException)

        missing = "us-east-1_Nope12345"
        err = same_error(lambda: local.list_users(UserPoolId=missing), lambda: cognito.list_users(UserPoolId=missing),
                         "ResourceNotFoundException", f"User pool {missing} does not exist.")
        assert isinstance(err, cognito.exceptions.ResourceNotFoundException)

        err = same_error(lambda: local.describe_user_pool_client(UserPoolId=pool, ClientId="nope" * 6),
                         lambda: cognito.describe_user_pool_client(UserPoolId=pool, ClientId="nope" * 6),
                         "ResourceNotFoundException")

        # Shape validation: boto3 validates client-side, so turn its validation off to let the
        # server's own (Cognito's wording) answer.
        lax = no_retry_client(server, parameter_validation=False)
        err = same_error(lambda: local.admin_get_user(UserPoolId="not a pool id", Username="alice"),
                         lambda: lax.admin_get_user(UserPoolId="not a pool id", Username="alice"),
                         "InvalidParameterException")
        assert err.response["Error"]["Message"].startswith("1 validation error detected: Value 'not a pool id' "
                                                           "at 'userPoolId' failed to satisfy constraint")
        same_error(lambda: local.list_users(UserPoolId=pool, Limit=61),
                   lambda: lax.list_users(UserPoolId=pool, Limit=61), "InvalidParameterException",
                   "1 validation error detected: Value '61' at 'limit' failed to satisfy constraint: "
                   "Member must have value less than or equal to 60")
        same_error(lambda: local.list_users(UserPoolId=pool, Filter="bogus"),
                   lambda: cognito.list_users(UserPoolId=pool, Filter="bogus"), "InvalidParameterException")


# -- signing -----------------------------------------------------------------------------------


def refused_unchanged(server, call, code: str, message: str | re.Pattern) -> None:
    """`call` is refused with `code` / `message` (400) and the store is untouched."""
    before = store_contents(server.client.store)
    with pytest.raises(ClientError) as caught:
        call()
    error = caught.value.response["Error"]
    assert error["Code"] == code
    if isinstance(message, re.Pattern):
        assert message.fullmatch(error["Message"]), error["Message"]
    else:
        assert error["Message"] == message
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert store_contents(server.client.store) == before


def test_admin_calls_need_a_valid_signature():
    """Unsigned, wrongly signed, unknown-key and wrong-region admin calls are refused with
    the AWS front end's errors, and change nothing."""
    with serving() as server:
        pool, _ = setup_pool(server.boto3())
        create = dict(UserPoolId=pool, Username="mallory", TemporaryPassword=TEMP, MessageAction="SUPPRESS")

        refused_unchanged(server, lambda: server.boto3(signed=False).admin_create_user(**create),
                          "MissingAuthenticationTokenException", "Missing Authentication Token")
        refused_unchanged(server, lambda: server.boto3(secret="not-the-secret").admin_create_user(**create),
                          "InvalidSignatureException", errors.InvalidSignatureException.default_message)
        refused_unchanged(server, lambda: server.boto3(key_id="AKIAUNKNOWNKEY000000").admin_create_user(**create),
                          "UnrecognizedClientException", "The security token included in the request is invalid.")
        refused_unchanged(server, lambda: server.boto3(signed=False).list_users(UserPoolId=pool),
                          "MissingAuthenticationTokenException", "Missing Authentication Token")

        # The same call, properly signed, is accepted: the refusals were the signature's.
        cognito = server.boto3()
        with pytest.raises(cognito.exceptions.UserNotFoundException):
            cognito.admin_get_user(UserPoolId=pool, Username="mallory")
        assert cognito.admin_create_user(**create)["User"]["Username"] == "mallory"


def test_a_signature_scoped_to_another_region_is_refused():
    """A boto3 client for us-west-2 signs for that region: InvalidSignatureException
    naming the region, and nothing changes."""
    with serving() as server:
        pool, _ = setup_pool(server.boto3())
        elsewhere = no_retry_client(server, region="us-west-2")
        refused_unchanged(
            server,
            lambda: elsewhere.admin_create_user(UserPoolId=pool, Username="mallory", MessageAction="SUPPRESS"),
            "InvalidSignatureException", "Credential should be scoped to a valid region, not 'us-west-2'. ",
        )


def test_a_signature_scoped_to_another_service_is_refused():
    """A request signed for another service is InvalidSignatureException, nothing runs."""
    with serving() as server:
        pool, _ = setup_pool(server.boto3())
        body = json.dumps({"UserPoolId": pool, "Username": "mallory", "MessageAction": "SUPPRESS"})
        request = AWSRequest(method="POST", url=server.url + "/", data=body, headers={
            "Content-Type": JSON_TYPE, "X-Amz-Target": TARGET + "AdminCreateUser"})
        SigV4Auth(Credentials(KEY_ID, SECRET), "execute-api", REGION).add_auth(request)
        before = store_contents(server.client.store)
        response = httpx.post(server.url + "/", content=body.encode(), headers=dict(request.headers.items()))
        assert_wire_error(response, "InvalidSignatureException",
                          "Credential should be scoped to correct service: 'cognito-idp'. ")
        assert store_contents(server.client.store) == before


def test_signature_expires_after_fifteen_minutes_of_skew():
    """A request dated more than 15 minutes from the server's clock is refused
    ('Signature expired'); with the clock back, the same client is accepted."""
    with serving() as server:
        cognito = server.boto3()
        pool, _ = setup_pool(cognito)
        start = server.clock.now()
        server.clock.advance(timedelta(minutes=20))
        refused_unchanged(server, lambda: cognito.list_users(UserPoolId=pool), "InvalidSignatureException",
                          re.compile(r"Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z "
                                     r"\(\d{8}T\d{6}Z - 15 min\.\)"))
        server.clock.set(start)
        assert cognito.list_users(UserPoolId=pool)["Users"] == []


def test_a_tampered_body_fails_the_signature():
    """The body's hash is computed from the body received: a correctly signed request
    whose body was swapped is refused, even with the original x-amz-content-sha256."""
    with serving() as server:
        pool, _ = setup_pool(server.boto3())
        signed_body = json.dumps({"UserPoolId": pool, "Username": "alice", "MessageAction": "SUPPRESS",
                                  "TemporaryPassword": TEMP})
        request = AWSRequest(method="POST", url=server.url + "/", data=signed_body, headers={
            "Content-Type": JSON_TYPE, "X-Amz-Target": TARGET + "AdminCreateUser",
            # Signed, and the hash botocore then signs in place of hashing the body itself.
            "X-Amz-Content-SHA256": hashlib.sha256(signed_body.encode()).hexdigest()})
        SigV4Auth(Credentials(KEY_ID, SECRET), "cognito-idp", REGION).add_auth(request)
        headers = dict(request.headers.items())
        assert "x-amz-content-sha256" in headers["Authorization"]
        before = store_contents(server.client.store)
        forged = signed_body.replace('"alice"', '"mallory"').encode()
        response = httpx.post(server.url + "/", content=forged, headers=headers)
        assert_wire_error(response, "InvalidSignatureException", errors.InvalidSignatureException.default_message)
        assert store_contents(server.client.store) == before
        # The genuine body, with the same headers, is accepted.
        response = httpx.post(server.url + "/", content=signed_body.encode(), headers=headers)
        assert response.status_code == 200, response.text
        assert response.json()["User"]["Username"] == "alice"


def test_public_operations_need_no_signature_but_accept_one():
    """InitiateAuth, RespondToAuthChallenge, GetUser and GlobalSignOut work unsigned;
    a signed InitiateAuth is accepted too."""
    with serving() as server:
        pool, client_id = setup_pool(server.boto3())
        create_user(server.boto3(), pool)
        public = server.boto3(signed=False)
        started = public.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                                       AuthParameters={"USERNAME": "alice", "PASSWORD": TEMP})
        assert "Authorization" not in started["ResponseMetadata"]["HTTPHeaders"]
        done = public.respond_to_auth_challenge(
            ClientId=client_id, ChallengeName="NEW_PASSWORD_REQUIRED", Session=started["Session"],
            ChallengeResponses={"USERNAME": "alice", "NEW_PASSWORD": NEW})
        access = done["AuthenticationResult"]["AccessToken"]
        assert public.get_user(AccessToken=access)["Username"] == "alice"

        signed = server.boto3().initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                                              AuthParameters={"USERNAME": "alice", "PASSWORD": NEW})
        assert "AccessToken" in signed["AuthenticationResult"]
        # Public operations do not even look at the key: an unknown one is no obstacle.
        stranger = server.boto3(key_id="AKIAUNKNOWNKEY000000", secret="x")
        assert stranger.get_user(AccessToken=access)["Username"] == "alice"
        public.global_sign_out(AccessToken=access)
        with pytest.raises(public.exceptions.NotAuthorizedException):
            public.get_user(AccessToken=access)


def test_signing_off_accepts_unsigned_admin_calls():
    """serving(secrets=None) (authflow serve --insecure-no-auth): unsigned admin calls work."""
    with serving(secrets=None) as server:
        public = server.boto3(signed=False)
        pool = public.create_user_pool(PoolName="open")["UserPool"]["Id"]
        public.admin_create_user(UserPoolId=pool, Username="alice", TemporaryPassword=TEMP, MessageAction="SUPPRESS")
        assert public.admin_get_user(UserPoolId=pool, Username="alice")["UserStatus"] == "FORCE_CHANGE_PASSWORD"
        assert server.boto3(key_id="AKIAANYKEYATALL00000").list_users(UserPoolId=pool)["Users"][0]["Username"] == "alice"


# -- protocol edge cases --------------------------------------------------------------------


def test_unknown_and_unimplemented_operations():
    """An X-Amz-Target outside the model is UnknownOperationException; a model operation
    authflow lacks is UnsupportedOperationException (boto3 raises the modelled class)."""
    with serving() as server:
        assert_wire_error(raw(server, "NoSuchOperation", "{}"), "UnknownOperationException",
                          "Unknown operation NoSuchOperation.")
        assert_wire_error(raw(server, "Other.ListUsers", "{}"), "UnknownOperationException",
                          f"X-Amz-Target must be {TARGET}<Operation>.")
        assert_wire_error(raw(server, None, "{}"), "UnknownOperationException",
                          f"X-Amz-Target must be {TARGET}<Operation>.")
        assert_wire_error(raw(server, "ListUserPoolReplicas", "{}"), "UnsupportedOperationException",
                          "authflow does not implement ListUserPoolReplicas yet.")
        cognito = server.boto3()
        with pytest.raises(cognito.exceptions.UnsupportedOperationException) as err:
            cognito.list_user_pool_replicas(UserPoolId="us-east-1_abcdefghi")
        assert err.value.response["Error"]["Message"] == "authflow does not implement ListUserPoolReplicas yet."
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


@pytest.mark.parametrize("body", [
    b"{", b"[]", b'"text"', b"\xff\xfe", b'{"ClientId": "a", "ClientId": "b"}', b'{"ClientId": NaN}',
], ids=["truncated", "array", "string", "not-utf8", "duplicate-key", "nan"])
def test_malformed_json_is_a_serialization_exception(body):
    """A body that is not one strict JSON object: 400 SerializationException, nothing run."""
    with serving() as server:
        before = store_contents(server.client.store)
        response = raw(server, "InitiateAuth", body)
        assert_wire_error(response, "SerializationException", re.compile(r".+"))
        assert store_contents(server.client.store) == before


def test_wrong_content_type_is_refused():
    """Only application/x-amz-json-1.1 is accepted; anything else is a 400."""
    with serving() as server:
        body = json.dumps({"ClientId": "x", "AuthFlow": "USER_PASSWORD_AUTH"})
        assert_wire_error(raw(server, "InitiateAuth", body, content_type="application/json"),
                          "SerializationException",
                          "Content-Type must be application/x-amz-json-1.1 (got 'application/json').")
        assert_wire_error(raw(server, "InitiateAuth", body, content_type=None),
                          "SerializationException", "Content-Type must be application/x-amz-json-1.1 (got 'none').")
        # A charset parameter is fine (the request reaches the engine, which refuses the client id).
        response = raw(server, "InitiateAuth", body, content_type=JSON_TYPE + "; charset=utf-8")
        assert response.json()["__type"] not in ("SerializationException", "UnknownOperationException")


def test_oversized_body_is_refused_with_and_without_content_length():
    """A body over 1 MiB is InvalidParameterException whether its size is declared
    (Content-Length) or only found by reading (chunked); the store is unchanged."""
    with serving() as server:
        big = json.dumps({"ClientId": "a" * (MAX_BODY_BYTES + 10), "AuthFlow": "USER_PASSWORD_AUTH"}).encode()
        pattern = re.compile(rf"Request body of (\d+) bytes is larger than the limit of {MAX_BODY_BYTES} bytes\.")
        before = store_contents(server.client.store)

        declared = raw(server, "InitiateAuth", big)
        assert declared.request.headers["content-length"] == str(len(big))
        assert_wire_error(declared, "InvalidParameterException", pattern)
        assert int(pattern.fullmatch(declared.json()["message"]).group(1)) == len(big)

        def chunks():
            for i in range(0, len(big), 64 * 1024):
                yield big[i:i + 64 * 1024]

        chunked = raw(server, "InitiateAuth", chunks())
        assert chunked.request.headers["transfer-encoding"] == "chunked"
        assert "content-length" not in chunked.request.headers
        assert_wire_error(chunked, "InvalidParameterException", pattern)
        assert int(pattern.fullmatch(chunked.json()["message"]).group(1)) > MAX_BODY_BYTES

        # Signed operations too: the size is checked before anything else.
        assert_wire_error(raw(server, "AdminCreateUser", big), "InvalidParameterException", pattern)
        assert store_contents(server.client.store) == before

        # Just under the limit is parsed (and refused by validation, not by size).
        small = json.dumps({"ClientId": "a" * 1000, "AuthFlow": "USER_PASSWORD_AUTH"}).encode()
        assert raw(server, "InitiateAuth", small).json()["__type"] == "InvalidParameterException"
        assert "larger than the limit" not in raw(server, "InitiateAuth", small).json()["message"]


def test_get_routes():
    """/health answers 200; the JWKS of an unknown pool is a 404 naming the pool."""
    with serving() as server:
        health = httpx.get(server.url + "/health")
        assert health.status_code == 200 and health.json() == {"status": "ok"}
        missing = httpx.get(server.url + "/us-east-1_Nope12345/.well-known/jwks.json")
        assert_wire_error(missing, "ResourceNotFoundException", "User pool us-east-1_Nope12345 does not exist.",
                          status=404)
        missing = httpx.get(server.url + "/us-east-1_Nope12345/.well-known/openid-configuration")
        assert_wire_error(missing, "ResourceNotFoundException", "User pool us-east-1_Nope12345 does not exist.",
                          status=404)
        assert httpx.post(server.url + "/health").status_code == 405

