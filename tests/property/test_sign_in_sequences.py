"""Random sign-in sequences through the public Client.

Hypothesis drives sign-in attempts (right, wrong and temporary passwords, by
username and by alias), challenge answers (good, refused, replayed), refreshes,
sign-outs, disabling, re-invitations and clock jumps across the temporary-password
window, the session lifetime and the lockout. After every step:

- a refused request changed nothing but the lockout counters, and sent nothing;
- tokens were only ever issued to an enabled, CONFIRMED user;
- a challenge session never succeeded twice;
- a refresh token never worked after its user signed out or was disabled.
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import event, given
from hypothesis import strategies as st

from authflow.adapters import ManualClock
from authflow.errors import CognitoError
from tests.conftest import START, make_client
from tests.helpers import store_contents, without_lockout

TEMPORARY = "Temp1234!"
NEW = "NewPass1!x"
PASSWORDS = [TEMPORARY, NEW, "Wrong1234!"]
NAMES = ["alice", "alice@example.com", "bob", "nobody"]

INITIATE = st.tuples(st.just("initiate"), st.sampled_from(NAMES), st.sampled_from(PASSWORDS), st.booleans())
ANSWER = st.tuples(st.just("answer"), st.sampled_from(["good", "good", "weak", "same", "missing_attr"]), st.booleans())
STEPS = st.one_of(
    INITIATE,
    INITIATE,
    ANSWER,
    ANSWER,
    st.tuples(st.just("replay")),
    st.tuples(st.just("refresh")),
    st.tuples(st.just("sign_out")),
    st.tuples(st.just("toggle"), st.booleans()),
    st.tuples(st.just("resend")),
    st.tuples(st.just("advance"), st.sampled_from([1, 30, 181, 899, 3600, 7 * 86400])),
)


class World:
    def __init__(self):
        self.clock = ManualClock(START)
        self.client = make_client(clock=self.clock)
        c = self.client
        self.pool = c.create_user_pool(
            PoolName="p",
            AliasAttributes=["email"],
            Schema=[{"Name": "nickname", "AttributeDataType": "String", "Required": True, "Mutable": True}],
        )["UserPool"]["Id"]
        self.client_id = c.create_user_pool_client(
            UserPoolId=self.pool, ClientName="c",
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        )["UserPoolClient"]["ClientId"]
        for name, extra in (("alice", [{"Name": "email", "Value": "alice@example.com"},
                                       {"Name": "email_verified", "Value": "true"},
                                       {"Name": "nickname", "Value": "al"}]),
                            ("bob", [{"Name": "email", "Value": "bob@example.com"}])):
            c.admin_create_user(
                UserPoolId=self.pool, Username=name, TemporaryPassword=TEMPORARY,
                UserAttributes=extra, MessageAction="SUPPRESS",
            )
        self.session = None  # (session, username) of the open challenge
        self.used_sessions = []
        self.refresh_tokens = []  # (token, username, generation-at-issue)

    def user(self, name):
        with self.client.store.transaction() as tx:
            return tx.get_user(self.pool, name)

    def canonical(self, name):
        return "alice" if name == "alice@example.com" else name

    def run(self, step):
        c = self.client
        kind = step[0]
        if kind == "initiate":
            _, name, password, admin = step
            if admin:
                return c.admin_initiate_auth(
                    UserPoolId=self.pool, ClientId=self.client_id, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                    AuthParameters={"USERNAME": name, "PASSWORD": password},
                ), self.canonical(name)
            return c.initiate_auth(
                ClientId=self.client_id, AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": name, "PASSWORD": password},
            ), self.canonical(name)
        if kind in ("answer", "replay"):
            if kind == "replay":
                if not self.used_sessions:
                    return None, None
                session, name = self.used_sessions[-1]
                answer = "good"
            else:
                if self.session is None:
                    return None, None
                session, name = self.session
                answer = step[1]
            responses = {"USERNAME": name, "NEW_PASSWORD": {"weak": "weak", "same": TEMPORARY}.get(answer, NEW)}
            if answer != "missing_attr" and name == "bob":
                responses["userAttributes.nickname"] = "bobby"
            response = c.respond_to_auth_challenge(
                ClientId=self.client_id, ChallengeName="NEW_PASSWORD_REQUIRED", Session=session,
                ChallengeResponses=responses,
            )
            self.used_sessions.append((session, name))
            if kind == "replay":
                raise AssertionError("a used session succeeded again")
            return response, name
        if kind == "refresh":
            if not self.refresh_tokens:
                return None, None
            token, name, generation = self.refresh_tokens[-1]
            response = c.initiate_auth(
                ClientId=self.client_id, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={"REFRESH_TOKEN": token},
            )
            assert self.user(name).token_generation == generation, "a signed-out refresh token worked"
            return response, name
        if kind == "sign_out":
            return c.admin_user_global_sign_out(UserPoolId=self.pool, Username="alice"), None
        if kind == "toggle":
            name = "alice" if step[1] else "bob"
            user = self.user(name)
            op = c.admin_enable_user if not user.enabled else c.admin_disable_user
            return op(UserPoolId=self.pool, Username=name), None
        if kind == "resend":
            return c.admin_create_user(
                UserPoolId=self.pool, Username="bob", MessageAction="RESEND",
                TemporaryPassword=TEMPORARY, DesiredDeliveryMediums=["EMAIL"],
            ), None
        if kind == "advance":
            self.clock.advance(timedelta(seconds=step[1]))
            return None, None
        raise AssertionError(step)

    def after(self, response, name):
        if not response or name is None:
            return
        if "Session" in response:
            self.session = (response["Session"], name)
        if "AuthenticationResult" in response:
            user = self.user(name)
            assert user.enabled and user.status == "CONFIRMED", f"tokens issued to {user.status}/{user.enabled}"
            token = response["AuthenticationResult"].get("RefreshToken")
            if token:
                self.refresh_tokens.append((token, name, user.token_generation))


@given(steps=st.lists(STEPS, min_size=3, max_size=30))
def test_sign_in_sequences_keep_the_invariants(steps):
    world = World()
    for step in steps:
        before = without_lockout(store_contents(world.client.store))
        sent = len(world.client.messenger.messages)
        try:
            response, name = world.run(step)
        except CognitoError as err:
            event(f"refused {step[0]}: {err.code}")
            assert without_lockout(store_contents(world.client.store)) == before, f"{step} refused but wrote"
            assert len(world.client.messenger.messages) == sent
            continue
        if response and "AuthenticationResult" in response:
            event(f"tokens from {step[0]}")
        world.after(response, name)
