"""Tokens through the public surface: AuthenticationResult, the JWTs' headers and claims
(checked with PyJWT directly against `Client.get_jwks`), `authflow.tokens.verify` against
forged tokens, GetUser, refresh, revocation and key rotation.

References: srp-and-clients.md §3.4 (claims), security.md §3.4/§5/§7 rows 29-37,
cognito-semantics.md §3.8/§3.15/§3.19. Time is a ManualClock; the system clock is never
read, so PyJWT's own time checks are off and `exp` is compared with the manual clock.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import hashlib
import hmac
import json
import uuid
from datetime import datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

import authflow
from authflow.adapters import ManualClock, MemoryOutbox, MemoryStore, SeededEntropy
from authflow.tokens import verify
from tests.conftest import START, TEST_CONFIG, CheckedClient, make_client
from tests.signin import refused

TEMPORARY = "Tempor4ry!Pass"
PASSWORD = "N3w!Passw0rdX"
SCOPE = "aws.cognito.signin.user.admin"
FLOWS = ["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
JWK_MEMBERS = {"alg", "e", "kid", "kty", "n", "use"}
RESULT_MEMBERS = {"AccessToken", "ExpiresIn", "TokenType", "RefreshToken", "IdToken"}
ATTRIBUTES = [
    {"Name": "email", "Value": "alice@example.com"},
    {"Name": "email_verified", "Value": "true"},
    {"Name": "phone_number", "Value": "+15555550100"},
    {"Name": "phone_number_verified", "Value": "false"},
    {"Name": "custom:tier", "Value": "3"},
]

INVALID_ACCESS = "Invalid Access Token"
EXPIRED_ACCESS = "Access Token has expired"
REVOKED_ACCESS = "Access Token has been revoked"
INVALID_REFRESH = "Invalid Refresh Token"
EXPIRED_REFRESH = "Refresh Token has expired"
REVOKED_REFRESH = "Refresh Token has been revoked"


# -- helpers ---------------------------------------------------------------------------------


def secret_hash(secret: str, username: str, client_id: str) -> str:
    digest = hmac.new(secret.encode(), (username + client_id).encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def unb64url(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def header_of(token: str) -> dict[str, Any]:
    return json.loads(unb64url(token.split(".")[0]))


def claims_of(token: str) -> dict[str, Any]:
    """Unverified payload (for building forgeries and comparing; never for a verdict)."""
    return json.loads(unb64url(token.split(".")[1]))


def compact(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    head = b64url(json.dumps(header, separators=(",", ":")).encode())
    body = b64url(json.dumps(claims, separators=(",", ":")).encode())
    return f"{head}.{body}.{b64url(signature)}"


@functools.cache
def attacker_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def rs256(header: dict[str, Any], claims: dict[str, Any], key: rsa.RSAPrivateKey | None = None) -> str:
    """A correctly formed RS256 token signed with a key that is not the pool's."""
    key = key or attacker_key()
    unsigned = compact(header, claims).rsplit(".", 1)[0]
    signature = key.sign(unsigned.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{unsigned}.{b64url(signature)}"


def attacker_jwks(kid: str) -> dict[str, Any]:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(attacker_key().public_key()))
    return {"keys": [{**jwk, "kid": kid, "alg": "RS256", "use": "sig"}]}


def public_pem(jwks: dict[str, Any], kid: str) -> bytes:
    key = jwt.PyJWKSet.from_dict(jwks)[kid].key
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def hs256_with_public_pem(token: str, jwks: dict[str, Any]) -> str:
    """Key confusion: the same claims, HS256-signed with the pool's public key PEM as secret."""
    kid = header_of(token)["kid"]
    header = {"alg": "HS256", "typ": "JWT", "kid": kid}
    unsigned = compact(header, claims_of(token)).rsplit(".", 1)[0]
    signature = hmac.new(public_pem(jwks, kid), unsigned.encode(), hashlib.sha256).digest()
    return f"{unsigned}.{b64url(signature)}"


def alg_none(token: str, alg: str = "none") -> str:
    return compact({"alg": alg, "kid": header_of(token)["kid"]}, claims_of(token))


def tampered(token: str, **changes: Any) -> str:
    """The original header and signature over a changed payload."""
    head, _, signature = token.split(".")
    body = b64url(json.dumps({**claims_of(token), **changes}, separators=(",", ":")).encode())
    return f"{head}.{body}.{signature}"


def pyjwt_decode(token: str, jwks: dict[str, Any], *, issuer: str, audience: str | None = None) -> dict[str, Any]:
    """PyJWT directly: kid looked up in the published JWKS only, RS256 only. PyJWT's clock
    checks are off (the tokens live in ManualClock time); callers compare `exp` themselves."""
    key = jwt.PyJWKSet.from_dict(jwks)[jwt.get_unverified_header(token)["kid"]]
    return jwt.decode(
        token,
        key=key.key,
        algorithms=["RS256"],
        issuer=issuer,
        audience=audience,
        options={
            "verify_exp": False,
            "verify_iat": False,
            "verify_nbf": False,
            "require": ["exp", "iat", "iss", "sub", "token_use"],
        },
    )


@dataclasses.dataclass
class World:
    client: CheckedClient
    clock: ManualClock
    pool_id: str
    client_id: str

    @property
    def exc(self):
        return self.client.exceptions

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.us-east-1.amazonaws.com/{self.pool_id}"

    def now(self) -> datetime:
        return self.clock.now()

    def advance(self, **kwargs: float) -> None:
        self.clock.advance(timedelta(**kwargs))

    def jwks(self) -> dict[str, Any]:
        return self.client.get_jwks(UserPoolId=self.pool_id)

    def app(self, **kwargs: Any) -> dict[str, Any]:
        kwargs.setdefault("ExplicitAuthFlows", FLOWS)
        return self.client.create_user_pool_client(UserPoolId=self.pool_id, ClientName="app", **kwargs)[
            "UserPoolClient"
        ]

    def create_confirmed(self, username: str = "alice", attributes: list | None = None) -> dict[str, Any]:
        """AdminCreateUser with a temporary password, then ADMIN_USER_PASSWORD_AUTH and the
        NEW_PASSWORD_REQUIRED answer: the user is CONFIRMED; returns the first tokens."""
        self.client.admin_create_user(
            UserPoolId=self.pool_id, Username=username, TemporaryPassword=TEMPORARY,
            UserAttributes=ATTRIBUTES if attributes is None else attributes, MessageAction="SUPPRESS",
        )
        first = self.client.admin_initiate_auth(
            UserPoolId=self.pool_id, ClientId=self.client_id, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": TEMPORARY},
        )
        assert first["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
        answer = self.client.admin_respond_to_auth_challenge(
            UserPoolId=self.pool_id, ClientId=self.client_id, ChallengeName="NEW_PASSWORD_REQUIRED",
            Session=first["Session"], ChallengeResponses={"USERNAME": username, "NEW_PASSWORD": PASSWORD},
        )
        assert answer["ChallengeParameters"] == {}
        return answer["AuthenticationResult"]

    def sign_in(self, username: str = "alice", client_id: str | None = None, *, secret: str | None = None,
                admin: bool = False) -> dict[str, Any]:
        client_id = client_id or self.client_id
        params = {"USERNAME": username, "PASSWORD": PASSWORD}
        if secret is not None:
            params["SECRET_HASH"] = secret_hash(secret, username, client_id)
        if admin:
            response = self.client.admin_initiate_auth(
                UserPoolId=self.pool_id, ClientId=client_id, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                AuthParameters=params,
            )
        else:
            response = self.client.initiate_auth(
                ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters=params
            )
        assert "ChallengeName" not in response
        return response["AuthenticationResult"]

    def refresh(self, token: str, client_id: str | None = None, *, admin: bool = False,
                flow: str = "REFRESH_TOKEN_AUTH", extra: dict[str, str] | None = None) -> dict[str, Any]:
        client_id = client_id or self.client_id
        params = {"REFRESH_TOKEN": token, **(extra or {})}
        if admin:
            response = self.client.admin_initiate_auth(
                UserPoolId=self.pool_id, ClientId=client_id, AuthFlow=flow, AuthParameters=params
            )
        else:
            response = self.client.initiate_auth(ClientId=client_id, AuthFlow=flow, AuthParameters=params)
        assert response["ChallengeParameters"] == {}
        return response["AuthenticationResult"]

    def get_user(self, access_token: str) -> dict[str, Any]:
        return self.client.get_user(AccessToken=access_token)

    def verify(self, token: str, token_use: str = "access", **kwargs: Any) -> dict[str, Any]:
        kwargs.setdefault("issuer", self.issuer)
        kwargs.setdefault("client_id", self.client_id)
        kwargs.setdefault("now", self.now())
        jwks = kwargs.pop("jwks", None) or self.jwks()
        return verify(token, jwks, token_use=token_use, **kwargs)


SCHEMA = [{"Name": "tier", "AttributeDataType": "Number", "Mutable": True}]


def new_world(seed: int = 1, *, client: CheckedClient | None = None, clock: ManualClock | None = None,
              **app: Any) -> World:
    clock = clock or ManualClock(START)
    client = client or make_client(seed, clock=clock)
    pool_id = client.create_user_pool(PoolName="tokens", Schema=SCHEMA)["UserPool"]["Id"]
    world = World(client=client, clock=clock, pool_id=pool_id, client_id="")
    world.client_id = world.app(**app)["ClientId"]
    return world


@pytest.fixture
def world() -> World:
    return new_world()


@pytest.fixture
def signed_in(world) -> tuple[World, dict[str, Any]]:
    return world, world.create_confirmed()


# -- AuthenticationResult --------------------------------------------------------------------


def test_new_password_answer_returns_a_complete_authentication_result(world):
    result = world.create_confirmed()
    assert set(result) == RESULT_MEMBERS
    assert result["ExpiresIn"] == 3600
    assert result["TokenType"] == "Bearer"
    assert world.client.admin_get_user(UserPoolId=world.pool_id, Username="alice")["UserStatus"] == "CONFIRMED"


@pytest.mark.parametrize("admin", [False, True], ids=["USER_PASSWORD_AUTH", "ADMIN_USER_PASSWORD_AUTH"])
def test_password_sign_in_of_a_confirmed_user_returns_tokens(signed_in, admin):
    world, first = signed_in
    result = world.sign_in(admin=admin)
    assert set(result) == RESULT_MEMBERS
    assert result["ExpiresIn"] == 3600
    assert result["TokenType"] == "Bearer"
    assert result["RefreshToken"] != first["RefreshToken"]
    assert result["AccessToken"] != first["AccessToken"]


def test_legacy_admin_no_srp_auth_returns_tokens(signed_in):
    world, _ = signed_in
    response = world.client.admin_initiate_auth(
        UserPoolId=world.pool_id, ClientId=world.client_id, AuthFlow="ADMIN_NO_SRP_AUTH",
        AuthParameters={"USERNAME": "alice", "PASSWORD": PASSWORD},
    )
    assert set(response["AuthenticationResult"]) == RESULT_MEMBERS


def test_refresh_token_is_opaque_and_at_least_256_bits(signed_in):
    _, result = signed_in
    token = result["RefreshToken"]
    assert token.count(".") != 2  # not a JWT
    assert len(unb64url(token)) >= 32


def test_lifetimes_follow_the_app_client():
    world = new_world(
        AccessTokenValidity=2, IdTokenValidity=30,
        TokenValidityUnits={"AccessToken": "hours", "IdToken": "minutes"},
    )
    result = world.create_confirmed()
    assert result["ExpiresIn"] == 7200
    access, id_ = claims_of(result["AccessToken"]), claims_of(result["IdToken"])
    assert access["exp"] - access["iat"] == 7200
    assert id_["exp"] - id_["iat"] == 1800
    world.advance(minutes=5)
    refreshed = world.refresh(result["RefreshToken"])
    assert refreshed["ExpiresIn"] == 7200
    access, id_ = claims_of(refreshed["AccessToken"]), claims_of(refreshed["IdToken"])
    assert access["exp"] - access["iat"] == 7200
    assert id_["exp"] - id_["iat"] == 1800


def test_access_token_validity_in_hours_gives_expires_in_7200():
    world = new_world(AccessTokenValidity=2, TokenValidityUnits={"AccessToken": "hours"})
    result = world.create_confirmed()
    assert result["ExpiresIn"] == 7200
    assert claims_of(result["IdToken"])["exp"] - claims_of(result["IdToken"])["iat"] == 3600


# -- the JWTs, checked with PyJWT ----------------------------------------------------------------


def test_both_tokens_verify_with_pyjwt_against_the_published_jwks(signed_in):
    world, result = signed_in
    jwks = world.jwks()
    id_claims = pyjwt_decode(result["IdToken"], jwks, issuer=world.issuer, audience=world.client_id)
    access_claims = pyjwt_decode(result["AccessToken"], jwks, issuer=world.issuer)
    assert id_claims == claims_of(result["IdToken"])
    assert access_claims == claims_of(result["AccessToken"])
    now = world.now().timestamp()
    assert id_claims["iat"] == access_claims["iat"] == int(now)
    assert id_claims["exp"] > now and access_claims["exp"] > now


def test_headers_are_kid_and_rs256_with_different_kids(signed_in):
    world, result = signed_in
    id_header, access_header = header_of(result["IdToken"]), header_of(result["AccessToken"])
    assert set(id_header) == {"kid", "alg"} and set(access_header) == {"kid", "alg"}
    assert id_header["alg"] == access_header["alg"] == "RS256"
    assert jwt.get_unverified_header(result["IdToken"])["alg"] == "RS256"
    assert id_header["kid"] != access_header["kid"]
    kids = {k["kid"] for k in world.jwks()["keys"]}
    assert {id_header["kid"], access_header["kid"]} <= kids


def test_id_token_claims(signed_in):
    world, result = signed_in
    claims = pyjwt_decode(result["IdToken"], world.jwks(), issuer=world.issuer, audience=world.client_id)
    user = world.client.admin_get_user(UserPoolId=world.pool_id, Username="alice")
    sub = {a["Name"]: a["Value"] for a in user["UserAttributes"]}["sub"]
    assert claims["sub"] == sub
    assert uuid.UUID(claims["sub"]).version == 4
    assert claims["aud"] == world.client_id
    assert claims["iss"] == f"https://cognito-idp.us-east-1.amazonaws.com/{world.pool_id}"
    assert claims["token_use"] == "id"
    assert claims["cognito:username"] == "alice"
    assert claims["email"] == "alice@example.com"
    assert claims["email_verified"] is True
    assert claims["phone_number"] == "+15555550100"
    assert claims["phone_number_verified"] is False
    assert claims["custom:tier"] == "3"  # a Number attribute, still a string in the token
    assert claims["auth_time"] == claims["iat"] == int(START.timestamp())
    assert claims["exp"] - claims["iat"] == 3600
    assert "client_id" not in claims and "scope" not in claims


def test_access_token_claims(signed_in):
    world, result = signed_in
    claims = pyjwt_decode(result["AccessToken"], world.jwks(), issuer=world.issuer)  # audience=None: no aud
    id_claims = claims_of(result["IdToken"])
    assert "aud" not in claims
    assert claims["client_id"] == world.client_id
    assert claims["token_use"] == "access"
    assert claims["scope"] == SCOPE
    assert claims["username"] == "alice"
    assert claims["sub"] == id_claims["sub"]
    assert claims["iss"] == world.issuer
    assert claims["auth_time"] == claims["iat"] == int(START.timestamp())
    assert claims["exp"] - claims["iat"] == 3600
    for attribute in ("email", "email_verified", "custom:tier", "cognito:username"):
        assert attribute not in claims


def test_access_token_with_an_aud_check_is_refused_by_pyjwt(signed_in):
    world, result = signed_in
    with pytest.raises(jwt.MissingRequiredClaimError):
        pyjwt_decode(result["AccessToken"], world.jwks(), issuer=world.issuer, audience=world.client_id)


def test_jti_and_origin_jti_by_default(signed_in):
    world, result = signed_in
    id_claims, access_claims = claims_of(result["IdToken"]), claims_of(result["AccessToken"])
    for claims in (id_claims, access_claims):
        assert isinstance(claims["jti"], str) and uuid.UUID(claims["jti"])
        assert isinstance(claims["origin_jti"], str) and uuid.UUID(claims["origin_jti"])
        assert isinstance(claims["event_id"], str) and uuid.UUID(claims["event_id"])
    assert id_claims["jti"] != access_claims["jti"]
    assert id_claims["origin_jti"] == access_claims["origin_jti"]
    again = world.sign_in()
    assert claims_of(again["AccessToken"])["origin_jti"] != access_claims["origin_jti"]
    assert claims_of(again["AccessToken"])["jti"] != access_claims["jti"]


def test_no_jti_or_origin_jti_when_token_revocation_is_off():
    world = new_world(EnableTokenRevocation=False)
    result = world.create_confirmed()
    for token in (result["IdToken"], result["AccessToken"]):
        claims = claims_of(token)
        assert "jti" not in claims
        assert "origin_jti" not in claims
    refreshed = world.refresh(result["RefreshToken"])
    for token in (refreshed["IdToken"], refreshed["AccessToken"]):
        assert "jti" not in claims_of(token) and "origin_jti" not in claims_of(token)


@pytest.mark.parametrize("base", ["http://localhost:9229", "http://localhost:9229/"])
def test_issuer_base_url_is_configurable(base):
    clock = ManualClock(START)
    config = dataclasses.replace(TEST_CONFIG, issuer_base_url=base)
    client = CheckedClient(authflow.Client(
        config=config, clock=clock, entropy=SeededEntropy(7), messenger=MemoryOutbox(), store=MemoryStore(),
    ))
    world = new_world(client=client, clock=clock)
    result = world.create_confirmed()
    issuer = f"http://localhost:9229/{world.pool_id}"
    jwks = world.jwks()
    assert pyjwt_decode(result["IdToken"], jwks, issuer=issuer, audience=world.client_id)["iss"] == issuer
    assert pyjwt_decode(result["AccessToken"], jwks, issuer=issuer)["iss"] == issuer
    assert world.verify(result["AccessToken"], issuer=issuer)["iss"] == issuer
    assert world.get_user(result["AccessToken"])["Username"] == "alice"
    assert world.refresh(result["RefreshToken"])["ExpiresIn"] == 3600
    with refused(world.exc.NotAuthorizedException, INVALID_ACCESS):
        world.verify(result["AccessToken"])  # the AWS-form issuer is not this engine's


# -- JWKS hygiene ---------------------------------------------------------------------------------


def test_jwks_has_public_rsa_members_only(signed_in):
    world, _ = signed_in
    jwks = world.jwks()
    assert set(jwks) == {"keys"}
    assert len(jwks["keys"]) == 2
    kids = [k["kid"] for k in jwks["keys"]]
    assert len(set(kids)) == len(kids)
    for key in jwks["keys"]:
        assert set(key) == JWK_MEMBERS
        assert key["kty"] == "RSA"
        assert key["alg"] == "RS256"
        assert key["use"] == "sig"
        assert key["e"] == "AQAB"
        assert int.from_bytes(unb64url(key["n"]), "big").bit_length() >= 2048
        assert jwt.PyJWK(key).key.key_size >= 2048


def test_pools_publish_distinct_kids(world):
    other = world.client.create_user_pool(PoolName="other")["UserPool"]["Id"]
    mine = {k["kid"] for k in world.jwks()["keys"]}
    theirs = {k["kid"] for k in world.client.get_jwks(UserPoolId=other)["keys"]}
    assert len(mine) == len(theirs) == 2
    assert not mine & theirs


def test_jwks_of_an_unknown_pool(world):
    with refused(world.exc.ResourceNotFoundException, "User pool us-east-1_nothere00 does not exist."):
        world.client.get_jwks(UserPoolId="us-east-1_nothere00")


# -- authflow.tokens.verify -------------------------------------------------------------------------


def test_verify_accepts_good_tokens(signed_in):
    world, result = signed_in
    assert world.verify(result["AccessToken"], "access") == claims_of(result["AccessToken"])
    assert world.verify(result["IdToken"], "id") == claims_of(result["IdToken"])
    assert world.verify(result["AccessToken"], client_id=[world.client_id, "other"])["username"] == "alice"
    assert world.verify(result["IdToken"], "id", client_id=None)["aud"] == world.client_id
    assert world.verify(result["AccessToken"], engine=world.client)["username"] == "alice"


FORGERIES = {
    "alg none": lambda token, jwks: alg_none(token),
    "alg NONE": lambda token, jwks: alg_none(token, "NONE"),
    "alg none with the original signature": lambda token, jwks: alg_none(token) + token.split(".")[2],
    "HS256 signed with the public key PEM": hs256_with_public_pem,
    "unknown kid": lambda token, jwks: rs256({"kid": "not-a-published-kid", "alg": "RS256"}, claims_of(token)),
    "known kid, attacker's key": lambda token, jwks: rs256(header_of(token), claims_of(token)),
    "kid path traversal": lambda token, jwks: rs256({"kid": "../../etc/passwd", "alg": "RS256"}, claims_of(token)),
    "kid not a string": lambda token, jwks: rs256({"kid": 123, "alg": "RS256"}, claims_of(token)),
    "attacker jwk header": lambda token, jwks: rs256(
        {"kid": "evil", "alg": "RS256", "jwk": attacker_jwks("evil")["keys"][0]}, claims_of(token)
    ),
    "tampered payload": lambda token, jwks: tampered(token, username="mallory", sub=str(uuid.uuid4())),
    "tampered exp": lambda token, jwks: tampered(token, exp=claims_of(token)["exp"] + 86400),
    "signature stripped": lambda token, jwks: token.rsplit(".", 1)[0] + ".",
    "garbage": lambda token, jwks: "not-a-jwt",
    "two segments": lambda token, jwks: token.rsplit(".", 1)[0],
}


@pytest.mark.parametrize("forge", FORGERIES.values(), ids=FORGERIES.keys())
def test_verify_rejects_forged_access_tokens(signed_in, forge):
    world, result = signed_in
    forged = forge(result["AccessToken"], world.jwks())
    with refused(world.exc.NotAuthorizedException, INVALID_ACCESS):
        world.verify(forged, "access")


@pytest.mark.parametrize("forge", FORGERIES.values(), ids=FORGERIES.keys())
def test_verify_rejects_forged_id_tokens(signed_in, forge):
    world, result = signed_in
    forged = forge(result["IdToken"], world.jwks())
    with refused(world.exc.NotAuthorizedException, "Invalid ID Token"):
        world.verify(forged, "id")


@pytest.mark.parametrize("forge", FORGERIES.values(), ids=FORGERIES.keys())
def test_pyjwt_itself_rejects_the_forgeries(signed_in, forge):
    world, result = signed_in
    jwks = world.jwks()
    forged = forge(result["AccessToken"], jwks)
    with pytest.raises((jwt.PyJWTError, KeyError)):
        pyjwt_decode(forged, jwks, issuer=world.issuer)


def test_verify_rejects_expired_tokens(signed_in):
    world, result = signed_in
    exp = datetime.fromtimestamp(claims_of(result["AccessToken"])["exp"], START.tzinfo)
    assert world.verify(result["AccessToken"], now=exp - timedelta(seconds=1))["token_use"] == "access"
    with refused(world.exc.NotAuthorizedException, EXPIRED_ACCESS):
        world.verify(result["AccessToken"], now=exp)
    world.advance(seconds=3601)
    with refused(world.exc.NotAuthorizedException, EXPIRED_ACCESS):
        world.verify(result["AccessToken"])
    with refused(world.exc.NotAuthorizedException, "ID Token has expired"):
        world.verify(result["IdToken"], "id")


def test_verify_leeway_widens_the_expiry_check(signed_in):
    world, result = signed_in
    world.advance(seconds=3610)
    assert world.verify(result["AccessToken"], leeway=30)["username"] == "alice"
    with refused(world.exc.NotAuthorizedException, EXPIRED_ACCESS):
        world.verify(result["AccessToken"], leeway=0)


def test_verify_rejects_the_wrong_token_use(signed_in):
    world, result = signed_in
    with refused(world.exc.NotAuthorizedException, INVALID_ACCESS):
        world.verify(result["IdToken"], "access")
    with refused(world.exc.NotAuthorizedException, "Invalid ID Token"):
        world.verify(result["AccessToken"], "id")


def test_verify_rejects_another_client(signed_in):
    world, result = signed_in
    other = world.app()["ClientId"]
    with refused(world.exc.NotAuthorizedException, INVALID_ACCESS):
        world.verify(result["AccessToken"], client_id=other)
    with refused(world.exc.NotAuthorizedException, "Invalid ID Token"):
        world.verify(result["IdToken"], "id", client_id=other)
    with refused(world.exc.NotAuthorizedException, INVALID_ACCESS):
        world.verify(result["AccessToken"], client_id=[other])


@pytest.mark.parametrize("issuer", [
    "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_SomeOther1",
    "https://cognito-idp.eu-west-1.amazonaws.com/{pool}",
    "https://issuer-cognito-idp.us-east-1.amazonaws.com/{pool}",
    "https://cognito-idp.us-east-1.amazonaws.com/{pool}/",
    "https://cognito-idp.us-east-1.amazonaws.com",
])
def test_verify_rejects_the_wrong_issuer(signed_in, issuer):
    world, result = signed_in
    with refused(world.exc.NotAuthorizedException, INVALID_ACCESS):
        world.verify(result["AccessToken"], issuer=issuer.format(pool=world.pool_id))


def test_verify_rejects_a_token_of_another_pool(signed_in):
    world, result = signed_in
    other = new_world(client=world.client, clock=world.clock)
    with refused(world.exc.NotAuthorizedException, INVALID_ACCESS):
        world.verify(result["AccessToken"], jwks=other.jwks(), issuer=world.issuer)


def test_verify_requires_the_standard_claims_and_checks_iat(signed_in):
    """Tokens signed by a key the caller trusts (an attacker's JWKS handed in on purpose),
    to reach the claim checks after the signature."""
    world, result = signed_in
    jwks = attacker_jwks("k1")
    good = claims_of(result["AccessToken"])
    assert world.verify(rs256({"kid": "k1", "alg": "RS256"}, good), jwks=jwks)["sub"] == good["sub"]
    for missing in ("exp", "iat", "iss", "sub", "token_use"):
        claims = {k: v for k, v in good.items() if k != missing}
        with refused(world.exc.NotAuthorizedException, INVALID_ACCESS):
            world.verify(rs256({"kid": "k1", "alg": "RS256"}, claims), jwks=jwks)
    future = {**good, "iat": good["iat"] + 3600, "exp": good["exp"] + 3600}
    with refused(world.exc.NotAuthorizedException, INVALID_ACCESS):
        world.verify(rs256({"kid": "k1", "alg": "RS256"}, future), jwks=jwks)
    for bad in ({"exp": "soon"}, {"sub": 5}, {"client_id": None}):
        with refused(world.exc.NotAuthorizedException, INVALID_ACCESS):
            world.verify(rs256({"kid": "k1", "alg": "RS256"}, {**good, **bad}), jwks=jwks)


def test_verify_with_the_engine_refuses_revoked_tokens(signed_in):
    world, result = signed_in
    assert world.verify(result["IdToken"], "id", engine=world.client)["cognito:username"] == "alice"
    world.client.revoke_token(Token=result["RefreshToken"], ClientId=world.client_id)
    with refused(world.exc.NotAuthorizedException, REVOKED_ACCESS):
        world.verify(result["AccessToken"], engine=world.client)
    with refused(world.exc.NotAuthorizedException, "ID Token has been revoked"):
        world.verify(result["IdToken"], "id", engine=world.client)
    # Without the engine a revoked JWT is still cryptographically valid (security.md §3.4).
    assert world.verify(result["AccessToken"])["username"] == "alice"


def test_verify_with_the_engine_refuses_tokens_after_global_sign_out(signed_in):
    world, result = signed_in
    world.client.global_sign_out(AccessToken=result["AccessToken"])
    with refused(world.exc.NotAuthorizedException, REVOKED_ACCESS):
        world.verify(result["AccessToken"], engine=world.client)
    with refused(world.exc.NotAuthorizedException, "ID Token has been revoked"):
        world.verify(result["IdToken"], "id", engine=world.client)


# -- GetUser ------------------------------------------------------------------------------------------


def test_get_user_with_the_access_token(signed_in):
    world, result = signed_in
    response = world.get_user(result["AccessToken"])
    assert response["Username"] == "alice"
    attributes = {a["Name"]: a["Value"] for a in response["UserAttributes"]}
    assert attributes["sub"] == claims_of(result["AccessToken"])["sub"]
    assert attributes["email"] == "alice@example.com"
    assert attributes["email_verified"] == "true"  # a string in the attribute APIs
    assert attributes["phone_number_verified"] == "false"
    assert attributes["custom:tier"] == "3"


def test_get_user_refuses_an_id_token(signed_in):
    world, result = signed_in
    with refused(world.exc.NotAuthorizedException, INVALID_ACCESS):
        world.get_user(result["IdToken"])


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "eyJhbGciOiJub25lIn0.e30.", "x" * 2000])
def test_get_user_refuses_garbage(world, token):
    with refused(world.exc.NotAuthorizedException, INVALID_ACCESS):
        world.get_user(token)


def test_get_user_refuses_an_expired_access_token(signed_in):
    world, result = signed_in
    world.advance(seconds=3599)
    assert world.get_user(result["AccessToken"])["Username"] == "alice"
    world.advance(seconds=2)
    with refused(world.exc.NotAuthorizedException, EXPIRED_ACCESS):
        world.get_user(result["AccessToken"])


@pytest.mark.parametrize("forge", FORGERIES.values(), ids=FORGERIES.keys())
def test_get_user_refuses_forged_tokens(signed_in, forge):
    world, result = signed_in
    with refused(world.exc.NotAuthorizedException, INVALID_ACCESS):
        world.get_user(forge(result["AccessToken"], world.jwks()))


def test_get_user_of_a_deleted_user(signed_in):
    world, result = signed_in
    world.client.admin_delete_user(UserPoolId=world.pool_id, Username="alice")
    with refused(world.exc.UserNotFoundException, "User does not exist."):
        world.get_user(result["AccessToken"])


def test_get_user_refuses_a_token_naming_another_pool_in_iss(signed_in):
    world, result = signed_in
    other = new_world(client=world.client, clock=world.clock)
    forged = tampered(result["AccessToken"], iss=other.issuer)
    with refused(world.exc.NotAuthorizedException, INVALID_ACCESS):
        world.get_user(forged)


# -- refresh --------------------------------------------------------------------------------------------

REFRESH_CASES = [(admin, flow) for admin in (False, True) for flow in ("REFRESH_TOKEN_AUTH", "REFRESH_TOKEN")]


@pytest.mark.parametrize(("admin", "flow"), REFRESH_CASES,
                         ids=[f"{'Admin' if a else ''}InitiateAuth-{f}" for a, f in REFRESH_CASES])
def test_refresh_returns_new_id_and_access_tokens(signed_in, admin, flow):
    world, first = signed_in
    world.advance(minutes=10)
    result = world.refresh(first["RefreshToken"], admin=admin, flow=flow)
    assert set(result) == {"AccessToken", "ExpiresIn", "TokenType", "IdToken"}  # no RefreshToken
    assert result["ExpiresIn"] == 3600
    assert result["TokenType"] == "Bearer"
    jwks = world.jwks()
    new_id = pyjwt_decode(result["IdToken"], jwks, issuer=world.issuer, audience=world.client_id)
    new_access = pyjwt_decode(result["AccessToken"], jwks, issuer=world.issuer)
    old_id, old_access = claims_of(first["IdToken"]), claims_of(first["AccessToken"])
    later = int((START + timedelta(minutes=10)).timestamp())
    for new, old in ((new_id, old_id), (new_access, old_access)):
        assert new["auth_time"] == old["auth_time"] == int(START.timestamp())
        assert new["iat"] == later
        assert new["exp"] == later + 3600
        assert new["origin_jti"] == old["origin_jti"]
        assert new["jti"] != old["jti"]
        assert new["sub"] == old["sub"]
    assert new_access["username"] == "alice" and new_id["cognito:username"] == "alice"
    assert world.get_user(result["AccessToken"])["Username"] == "alice"
    # The refresh token stays usable (no rotation configured).
    assert set(world.refresh(first["RefreshToken"], admin=admin, flow=flow)) == {
        "AccessToken", "ExpiresIn", "TokenType", "IdToken"}


def test_refresh_with_another_clients_token(signed_in):
    world, first = signed_in
    other = world.app()["ClientId"]
    with refused(world.exc.NotAuthorizedException, INVALID_REFRESH):
        world.refresh(first["RefreshToken"], other)
    with refused(world.exc.NotAuthorizedException, INVALID_REFRESH):
        world.refresh(first["RefreshToken"], other, admin=True)


def test_refresh_with_another_pools_token(signed_in):
    world, first = signed_in
    other = new_world(client=world.client, clock=world.clock)
    with refused(world.exc.NotAuthorizedException, INVALID_REFRESH):
        other.refresh(first["RefreshToken"])


@pytest.mark.parametrize("token", ["garbage", "x" * 43, "eyJ.eyJ.sig"])
def test_refresh_with_garbage(world, token):
    with refused(world.exc.NotAuthorizedException, INVALID_REFRESH):
        world.refresh(token)


def test_refresh_without_the_refresh_token_parameter(world):
    with refused(world.exc.InvalidParameterException, "Missing required parameter REFRESH_TOKEN"):
        world.client.initiate_auth(ClientId=world.client_id, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={})


def test_refresh_token_expires_after_the_clients_refresh_validity():
    world = new_world(RefreshTokenValidity=60, TokenValidityUnits={"RefreshToken": "minutes"})
    first = world.create_confirmed()
    world.advance(minutes=59)
    assert world.refresh(first["RefreshToken"])["ExpiresIn"] == 3600
    world.advance(minutes=2)
    with refused(world.exc.NotAuthorizedException, EXPIRED_REFRESH):
        world.refresh(first["RefreshToken"])
    with refused(world.exc.NotAuthorizedException, EXPIRED_REFRESH):
        world.refresh(first["RefreshToken"], admin=True)


def test_refresh_of_a_disabled_user(signed_in):
    world, first = signed_in
    world.client.admin_disable_user(UserPoolId=world.pool_id, Username="alice")
    with refused(world.exc.NotAuthorizedException, "User is disabled."):
        world.refresh(first["RefreshToken"])


def test_refresh_needs_secret_hash_for_a_client_with_a_secret(signed_in):
    world, _ = signed_in
    app = world.app(GenerateSecret=True)
    client_id, secret = app["ClientId"], app["ClientSecret"]
    tokens = world.sign_in(client_id=client_id, secret=secret)
    with refused(world.exc.NotAuthorizedException,
                 f"Client {client_id} is configured for secret but secret was not received"):
        world.refresh(tokens["RefreshToken"], client_id)
    with refused(world.exc.NotAuthorizedException, f"Unable to verify secret hash for client {client_id}"):
        world.refresh(tokens["RefreshToken"], client_id, extra={"SECRET_HASH": secret_hash("wrong", "alice", client_id)})
    right = {"SECRET_HASH": secret_hash(secret, "alice", client_id)}
    assert world.refresh(tokens["RefreshToken"], client_id, extra=right)["TokenType"] == "Bearer"
    assert world.refresh(tokens["RefreshToken"], client_id, admin=True, extra=right)["TokenType"] == "Bearer"


# -- revocation -------------------------------------------------------------------------------------------


def assert_all_revoked(world: World, tokens: dict[str, Any]) -> None:
    with refused(world.exc.NotAuthorizedException, REVOKED_ACCESS):
        world.get_user(tokens["AccessToken"])
    with refused(world.exc.NotAuthorizedException, REVOKED_REFRESH):
        world.refresh(tokens["RefreshToken"])
    with refused(world.exc.NotAuthorizedException, REVOKED_REFRESH):
        world.refresh(tokens["RefreshToken"], admin=True)


def assert_works(world: World, tokens: dict[str, Any]) -> None:
    assert world.get_user(tokens["AccessToken"])["Username"] == "alice"
    refreshed = world.refresh(tokens["RefreshToken"])
    assert world.get_user(refreshed["AccessToken"])["Username"] == "alice"


def test_global_sign_out_revokes_everything_and_a_new_sign_in_works(signed_in):
    world, first = signed_in
    refreshed = world.refresh(first["RefreshToken"])
    assert world.client.global_sign_out(AccessToken=first["AccessToken"])["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert_all_revoked(world, first)
    with refused(world.exc.NotAuthorizedException, REVOKED_ACCESS):
        world.get_user(refreshed["AccessToken"])
    with refused(world.exc.NotAuthorizedException, REVOKED_ACCESS):
        world.client.global_sign_out(AccessToken=first["AccessToken"])
    assert_works(world, world.sign_in())  # same ManualClock instant
    world.advance(seconds=5)
    assert_works(world, world.sign_in())
    assert_all_revoked(world, first)


def test_global_sign_out_at_the_same_instant_without_token_revocation():
    """Tokens without origin_jti: a sign-in right after the sign-out must still work."""
    world = new_world(EnableTokenRevocation=False)
    first = world.create_confirmed()
    world.client.global_sign_out(AccessToken=first["AccessToken"])
    assert_all_revoked(world, first)
    assert_works(world, world.sign_in())


def test_global_sign_out_without_token_revocation_later_sign_in():
    world = new_world(EnableTokenRevocation=False)
    first = world.create_confirmed()
    world.client.global_sign_out(AccessToken=first["AccessToken"])
    world.advance(seconds=1)
    assert_works(world, world.sign_in())
    assert_all_revoked(world, first)


def test_global_sign_out_refuses_bad_tokens(signed_in):
    world, first = signed_in
    with refused(world.exc.NotAuthorizedException, INVALID_ACCESS):
        world.client.global_sign_out(AccessToken=first["IdToken"])
    with refused(world.exc.NotAuthorizedException, INVALID_ACCESS):
        world.client.global_sign_out(AccessToken=alg_none(first["AccessToken"]))
    assert_works(world, first)


def test_admin_user_global_sign_out(signed_in):
    world, first = signed_in
    second = world.sign_in(admin=True)
    world.client.admin_user_global_sign_out(UserPoolId=world.pool_id, Username="alice")
    assert_all_revoked(world, first)
    assert_all_revoked(world, second)
    assert_works(world, world.sign_in())  # same ManualClock instant


def test_admin_user_global_sign_out_of_an_unknown_user(world):
    with refused(world.exc.UserNotFoundException, "User does not exist."):
        world.client.admin_user_global_sign_out(UserPoolId=world.pool_id, Username="nobody")


def test_global_sign_out_leaves_other_users_alone(signed_in):
    world, alice = signed_in
    bob = world.create_confirmed("bob", attributes=[])
    world.client.global_sign_out(AccessToken=alice["AccessToken"])
    assert world.get_user(bob["AccessToken"])["Username"] == "bob"
    assert world.refresh(bob["RefreshToken"])["TokenType"] == "Bearer"


def test_disable_then_enable_keeps_old_tokens_revoked(signed_in):
    world, first = signed_in
    world.client.admin_disable_user(UserPoolId=world.pool_id, Username="alice")
    with refused(world.exc.NotAuthorizedException, REVOKED_ACCESS):
        world.get_user(first["AccessToken"])
    with refused(world.exc.NotAuthorizedException, "User is disabled."):
        world.sign_in()
    world.client.admin_enable_user(UserPoolId=world.pool_id, Username="alice")
    assert_all_revoked(world, first)
    assert_works(world, world.sign_in())  # same ManualClock instant


def test_revoke_token_revokes_one_family_only(signed_in):
    world, first = signed_in
    refreshed = world.refresh(first["RefreshToken"])
    second = world.sign_in()
    response = world.client.revoke_token(Token=first["RefreshToken"], ClientId=world.client_id)
    assert set(response) == {"ResponseMetadata"}
    assert_all_revoked(world, first)
    with refused(world.exc.NotAuthorizedException, REVOKED_ACCESS):
        world.get_user(refreshed["AccessToken"])
    assert_works(world, second)
    # Revoking again is harmless.
    world.client.revoke_token(Token=first["RefreshToken"], ClientId=world.client_id)
    assert_works(world, second)


@pytest.mark.parametrize("which", ["AccessToken", "IdToken"])
def test_revoke_token_with_a_jwt(signed_in, which):
    world, first = signed_in
    with refused(world.exc.UnsupportedTokenTypeException, "Only refresh tokens can be revoked."):
        world.client.revoke_token(Token=first[which], ClientId=world.client_id)
    assert_works(world, first)


def test_revoke_token_when_revocation_is_off():
    world = new_world(EnableTokenRevocation=False)
    first = world.create_confirmed()
    with refused(world.exc.UnsupportedOperationException, "Token revocation is not enabled for this client."):
        world.client.revoke_token(Token=first["RefreshToken"], ClientId=world.client_id)
    assert_works(world, first)


def test_revoke_token_of_a_client_with_a_secret(signed_in):
    world, _ = signed_in
    app = world.app(GenerateSecret=True)
    client_id, secret = app["ClientId"], app["ClientSecret"]
    tokens = world.sign_in(client_id=client_id, secret=secret)
    message = "Client secret is missing or does not match."
    with refused(world.exc.UnauthorizedException, message):
        world.client.revoke_token(Token=tokens["RefreshToken"], ClientId=client_id)
    with refused(world.exc.UnauthorizedException, message):
        world.client.revoke_token(Token=tokens["RefreshToken"], ClientId=client_id, ClientSecret="x" + secret[1:])
    assert world.get_user(tokens["AccessToken"])["Username"] == "alice"
    world.client.revoke_token(Token=tokens["RefreshToken"], ClientId=client_id, ClientSecret=secret)
    with refused(world.exc.NotAuthorizedException, REVOKED_ACCESS):
        world.get_user(tokens["AccessToken"])


def test_revoke_token_with_another_clients_id(signed_in):
    world, first = signed_in
    other = world.app()["ClientId"]
    with refused(world.exc.UnauthorizedException, "The token was not issued to this client."):
        world.client.revoke_token(Token=first["RefreshToken"], ClientId=other)
    assert_works(world, first)


# -- key rotation -------------------------------------------------------------------------------------------


def kids(jwks: dict[str, Any]) -> set[str]:
    return {k["kid"] for k in jwks["keys"]}


def test_rotation_keeps_old_keys_published_until_their_tokens_expire(signed_in):
    world, first = signed_in
    old_kids = kids(world.jwks())
    rotated = world.client.rotate_signing_keys(UserPoolId=world.pool_id)
    assert rotated == world.jwks()
    assert len(rotated["keys"]) == 4
    assert old_kids < kids(rotated)
    # Tokens signed before the rotation still verify against the new JWKS.
    pyjwt_decode(first["IdToken"], rotated, issuer=world.issuer, audience=world.client_id)
    pyjwt_decode(first["AccessToken"], rotated, issuer=world.issuer)
    assert world.verify(first["AccessToken"])["username"] == "alice"
    assert world.get_user(first["AccessToken"])["Username"] == "alice"
    # New tokens are signed with the new keys.
    second = world.sign_in()
    new_kids = kids(rotated) - old_kids
    assert header_of(second["IdToken"])["kid"] in new_kids
    assert header_of(second["AccessToken"])["kid"] in new_kids
    assert header_of(second["IdToken"])["kid"] != header_of(second["AccessToken"])["kid"]
    pyjwt_decode(second["AccessToken"], rotated, issuer=world.issuer)
    # Refreshing an old family signs with the new keys too.
    refreshed = world.refresh(first["RefreshToken"])
    assert header_of(refreshed["AccessToken"])["kid"] in new_kids
    for key in rotated["keys"]:
        assert set(key) == JWK_MEMBERS

    # More than a day later, a second rotation drops the first keys.
    world.advance(days=1, seconds=1)
    again = world.client.rotate_signing_keys(UserPoolId=world.pool_id)
    assert len(again["keys"]) == 4
    assert not old_kids & kids(again)
    assert new_kids < kids(again)
    for token in (first["IdToken"], first["AccessToken"]):
        with pytest.raises(KeyError):
            pyjwt_decode(token, again, issuer=world.issuer, audience=world.client_id)
    kids_again = [k["kid"] for k in again["keys"]]
    assert len(set(kids_again)) == len(kids_again)


def test_rotation_keeps_a_day_long_token_verifiable_to_its_end():
    world = new_world(AccessTokenValidity=1, IdTokenValidity=1,
                      TokenValidityUnits={"AccessToken": "days", "IdToken": "days"})
    first = world.create_confirmed()
    assert first["ExpiresIn"] == 86400
    world.client.rotate_signing_keys(UserPoolId=world.pool_id)
    world.advance(seconds=86399)
    assert world.verify(first["AccessToken"])["username"] == "alice"
    assert world.get_user(first["AccessToken"])["Username"] == "alice"
    pyjwt_decode(first["IdToken"], world.jwks(), issuer=world.issuer, audience=world.client_id)


def test_rotation_of_an_unknown_pool(world):
    with refused(world.exc.ResourceNotFoundException, "User pool us-east-1_nothere00 does not exist."):
        world.client.rotate_signing_keys(UserPoolId="us-east-1_nothere00")
