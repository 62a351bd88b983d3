"""Codes against a small model (Hypothesis stateful test): issue codes through
`service.oauth.authorize` + `complete` for registered and unregistered redirect URIs and
allowed and disallowed scopes, redeem them (right client, another client, a wrong redirect
URI), replay them, let them expire by moving the clock. Invariants: a code redeems at most
once; tokens only for registered redirect URIs and allowed scopes; the model and the
engine agree on every answer."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import jwt as pyjwt
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, rule

from authflow.service import oauth
from tests.conftest import make_client

DOMAIN = "prop"
BASE = "http://localhost/domains/prop"
REGISTERED = "https://app.example.com/cb"
UNREGISTERED = ("https://app.example.com/cb/", "https://evil.example.com/cb")
ALLOWED = ("openid", "email", "aws.cognito.signin.user.admin")
SCOPE_CHOICES = (None, "openid", "openid email", "aws.cognito.signin.user.admin", "openid admin:all", "phone")


class OAuthCodes(RuleBasedStateMachine):
    codes = Bundle("codes")

    @initialize()
    def set_up(self):
        self.client = make_client()
        self.clock = self.client.engine.clock
        self.pool = self.client.create_user_pool(PoolName="p")["UserPool"]["Id"]
        self.client.create_user_pool_domain(Domain=DOMAIN, UserPoolId=self.pool)
        settings = dict(AllowedOAuthFlowsUserPoolClient=True, AllowedOAuthFlows=["code"],
                        AllowedOAuthScopes=list(ALLOWED), CallbackURLs=[REGISTERED], GenerateSecret=True)
        self.apps = [self.client.create_user_pool_client(UserPoolId=self.pool, ClientName=n, **settings)
                     ["UserPoolClient"] for n in ("a", "b")]
        self.client.admin_create_user(UserPoolId=self.pool, Username="u", MessageAction="SUPPRESS")
        self.client.admin_set_user_password(UserPoolId=self.pool, Username="u", Password="Passw0rd!long",
                                            Permanent=True)
        attributes = self.client.admin_get_user(UserPoolId=self.pool, Username="u")["UserAttributes"]
        self.sub = next(a["Value"] for a in attributes if a["Name"] == "sub")
        # the model: code -> (client index, scopes, issued at, redeemed)
        self.model: dict[str, dict] = {}
        self.successes: dict[str, int] = {}

    @rule(target=codes, app=st.sampled_from((0, 1)), registered=st.booleans(),
          wrong=st.sampled_from(UNREGISTERED), scope=st.sampled_from(SCOPE_CHOICES))
    def issue(self, app, registered, wrong, scope):
        params = {"client_id": self.apps[app]["ClientId"], "response_type": "code",
                  "redirect_uri": REGISTERED if registered else wrong, **({"scope": scope} if scope else {})}
        answer = oauth.authorize(self.client.engine, DOMAIN, params, base=BASE)
        if not registered:
            assert isinstance(answer, oauth.AuthorizeRefusal) and answer.to_error_page
            assert answer.location.startswith(BASE + "/error?")
            return "none"
        names = scope.split() if scope else list(ALLOWED)
        if any(n not in ALLOWED for n in names) or ("email" in names and "openid" not in names):
            assert isinstance(answer, oauth.AuthorizeRefusal) and not answer.to_error_page
            assert answer.error == "invalid_scope" and answer.location.startswith(REGISTERED + "?")
            return "none"
        assert isinstance(answer, oauth.AuthorizeRequest)
        location = oauth.complete(self.client.engine, answer, sub=self.sub, auth_time=self.client.engine.now())
        assert location.startswith(REGISTERED + "?")
        code = parse_qs(urlparse(location).query)["code"][0]
        self.model[code] = {"app": app, "scopes": names, "issued": self.clock.now(), "redeemed": False}
        return code

    @rule(code=codes, by=st.sampled_from((0, 1)), right_uri=st.booleans())
    def redeem(self, code, by, right_uri):
        app = self.apps[by]
        form = {"grant_type": "authorization_code", "code": code,
                "redirect_uri": REGISTERED if right_uri else UNREGISTERED[0],
                "client_id": app["ClientId"], "client_secret": app["ClientSecret"]}
        entry = self.model.get(code)
        try:
            answer = oauth.token(self.client.engine, DOMAIN, form, None)
        except oauth.OAuthError as err:
            answer = err.error
        if entry is None:  # the "none" placeholder: never a code
            assert answer == "invalid_grant"
            return
        expired = self.clock.now() >= entry["issued"] + timedelta(minutes=5)
        if expired or entry["redeemed"] or by != entry["app"]:
            assert answer == "invalid_grant"
            return
        entry["redeemed"] = True  # a wrong redirect URI spends it too
        if not right_uri:
            assert answer == "invalid_grant"
            return
        assert isinstance(answer, dict), answer
        self.successes[code] = self.successes.get(code, 0) + 1
        claims = pyjwt.decode(answer["access_token"], options={"verify_signature": False})
        assert claims["scope"].split() == entry["scopes"]
        assert set(claims["scope"].split()) <= set(ALLOWED)
        assert claims["client_id"] == app["ClientId"]
        assert ("id_token" in answer) == ("openid" in entry["scopes"])

    @rule(seconds=st.sampled_from((1, 60, 170, 301)))
    def wait(self, seconds):
        self.clock.advance(timedelta(seconds=seconds))

    @invariant()
    def a_code_redeems_at_most_once(self):
        assert all(n <= 1 for n in getattr(self, "successes", {}).values())


TestOAuthCodes = OAuthCodes.TestCase
