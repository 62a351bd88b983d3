"""The admin side of the engine against a small, obviously-correct model.

A Hypothesis state machine drives the public Client in an email-alias pool with
create (with and without verification, with and without ForceAliasCreation),
email changes, verification, disable/enable and delete, and after every step
compares what the engine answers with what a plain-dict model says: who exists,
their status and enabled flag, their email and its verification, who a verified
email signs in as, and what ListUsers returns for `email =` and `status =`
filters. Invariants: at most one holder per verified email; usernames unique.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from tests.conftest import make_client

NAMES = st.sampled_from(["ann", "ben", "cat", "dan"])
EMAILS = st.sampled_from(["x@example.com", "y@example.com", "z@example.com"])


@dataclass
class ModelUser:
    email: str | None
    verified: bool
    enabled: bool = True


class AdminModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.client = make_client()
        self.pool = self.client.create_user_pool(PoolName="m", AliasAttributes=["email"])["UserPool"]["Id"]
        self.users: dict[str, ModelUser] = {}

    # -- the model's one rule about aliases ------------------------------------------------------

    def holder(self, email: str) -> str | None:
        holders = [n for n, u in self.users.items() if u.email == email and u.verified]
        assert len(holders) <= 1
        return holders[0] if holders else None

    def attributes(self, email: str | None, verified: bool | None) -> list[dict[str, str]]:
        out = []
        if email is not None:
            out.append({"Name": "email", "Value": email})
        if verified is not None:
            out.append({"Name": "email_verified", "Value": "true" if verified else "false"})
        return out

    # -- rules --------------------------------------------------------------------------------------

    @rule(name=NAMES, email=st.one_of(st.none(), EMAILS), verified=st.booleans(), force=st.booleans())
    def create(self, name, email, verified, force):
        verified = verified and email is not None
        expect_ok = name not in self.users
        taken_by = self.holder(email) if verified else None
        if expect_ok and taken_by is not None and not force:
            expect_ok = False
        try:
            self.client.admin_create_user(
                UserPoolId=self.pool,
                Username=name,
                UserAttributes=self.attributes(email, verified if verified else None),
                ForceAliasCreation=force,
                MessageAction="SUPPRESS",
            )
            ok = True
        except (self.client.exceptions.UsernameExistsException, self.client.exceptions.AliasExistsException):
            ok = False
        assert ok == expect_ok
        if ok:
            if taken_by is not None:
                self.users[taken_by].verified = False
            self.users[name] = ModelUser(email=email, verified=verified)

    @rule(name=NAMES, email=EMAILS)
    def change_email(self, name, email):
        if name not in self.users:
            return
        user = self.users[name]
        self.client.admin_update_user_attributes(
            UserPoolId=self.pool, Username=name, UserAttributes=[{"Name": "email", "Value": email}]
        )
        if email != user.email:
            user.verified = False
        user.email = email

    @rule(name=NAMES)
    def verify(self, name):
        if name not in self.users or self.users[name].email is None:
            return
        user = self.users[name]
        other = self.holder(user.email)
        try:
            self.client.admin_update_user_attributes(
                UserPoolId=self.pool, Username=name, UserAttributes=[{"Name": "email_verified", "Value": "true"}]
            )
            ok = True
        except self.client.exceptions.AliasExistsException:
            ok = False
        assert ok == (other in (None, name))
        if ok:
            user.verified = True

    @rule(name=NAMES, enabled=st.booleans())
    def set_enabled(self, name, enabled):
        method = self.client.admin_enable_user if enabled else self.client.admin_disable_user
        try:
            method(UserPoolId=self.pool, Username=name)
        except self.client.exceptions.UserNotFoundException:
            assert name not in self.users
            return
        self.users[name].enabled = enabled

    @rule(name=NAMES)
    def delete(self, name):
        try:
            self.client.admin_delete_user(UserPoolId=self.pool, Username=name)
        except self.client.exceptions.UserNotFoundException:
            assert name not in self.users
            return
        del self.users[name]

    # -- agreement -----------------------------------------------------------------------------------

    @invariant()
    def users_agree(self):
        listed = self.client.list_users(UserPoolId=self.pool)["Users"]
        assert sorted(u["Username"] for u in listed) == sorted(self.users)
        for entry in listed:
            model = self.users[entry["Username"]]
            attrs = {a["Name"]: a["Value"] for a in entry["Attributes"]}
            assert entry["UserStatus"] == "FORCE_CHANGE_PASSWORD"
            assert entry["Enabled"] == model.enabled
            assert attrs.get("email") == model.email
            assert (attrs.get("email_verified") == "true") == model.verified

    @invariant()
    def aliases_agree(self):
        for email in ("x@example.com", "y@example.com", "z@example.com"):
            holder = self.holder(email)
            try:
                got = self.client.admin_get_user(UserPoolId=self.pool, Username=email)["Username"]
            except self.client.exceptions.UserNotFoundException:
                got = None
            assert got == holder
            found = self.client.list_users(UserPoolId=self.pool, Filter=f'email = "{email}"')["Users"]
            assert sorted(u["Username"] for u in found) == sorted(n for n, u in self.users.items() if u.email == email)

    @invariant()
    def status_filter_agrees(self):
        disabled = self.client.list_users(UserPoolId=self.pool, Filter='status = "Disabled"')["Users"]
        assert sorted(u["Username"] for u in disabled) == sorted(n for n, u in self.users.items() if not u.enabled)


TestAdminModel = AdminModel.TestCase
