"""`authflow explore`: the bounded model checker over the real engine.

It finds nothing wrong with the engine at a small depth, gives the same counts on
every run (and with any seed: randomness is not part of a state), finds a bug
planted through its test-only `faults` hook with a shortest trace, and its command
line prints, exits, writes a DOT graph and reads a pool configuration as documented.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest

from authflow.cli import main
from authflow.explore import Progress, explore, write_dot
from authflow.invariants import INVARIANTS
from authflow.service.registry import OPERATIONS, load_all

SMS_CONFIG = {"SnsCallerArn": "arn:aws:iam::123456789012:role/sns", "ExternalId": "x"}


def forgetful_revoke(real):
    """A planted bug: RevokeToken answers as usual but revokes nothing."""
    return lambda engine, request: {}


def storing_create(real):
    """A planted bug: AdminCreateUser keeps the ValidationData in the user's attributes."""

    def create(engine, request):
        response = real(engine, request)
        with engine.store.transaction() as tx:
            pool = tx.get_pool(request["UserPoolId"])
            user = tx.get_user(pool.id, response["User"]["Username"])
            kept = {**user.attributes, "nickname": request["ValidationData"][0]["Value"]}
            tx.put_user(replace(user, attributes=kept, version=user.version + 1))
        return response

    return create


def unchecked_reset(real):
    """A planted bug: ConfirmForgotPassword sets the new password whatever the code
    (the real decision, without the code check before it)."""
    from authflow.core.passwords import decide_confirm_forgot_password
    from authflow.service.code_requests import client_and_user

    def confirm(engine, request):
        password_hash = engine.hasher(request["Password"])
        with engine.store.transaction() as tx:
            pool, _, user = client_and_user(engine, tx, request)
            engine.apply(tx, decide_confirm_forgot_password(
                pool, user, password=request["Password"], password_hash=password_hash, now=engine.now(),
            ))
        return {}

    return confirm


def test_the_engine_keeps_every_invariant_at_a_small_depth():
    result = explore(flows=(), users=2, aliases=1, depth=3, progress=False)
    assert result.ok and result.violation is None and result.trace is None
    assert result.depth == 3 and not result.complete
    assert result.invariants == tuple(INVARIANTS)
    assert result.states > 100 and result.transitions > result.states


def test_counts_are_stable_across_runs_and_seeds():
    runs = [explore(flows=(), users=2, aliases=1, depth=3, progress=False, seed=seed) for seed in (0, 0, 7)]
    assert len({(r.states, r.transitions, r.depth) for r in runs}) == 1


def test_a_planted_bug_is_found_with_a_shortest_trace():
    result = explore(flows=(), users=1, aliases=0, depth=6, progress=False, faults={"RevokeToken": forgetful_revoke})
    assert result.violation is not None
    assert result.violation.invariant == "revoked_refresh_token_yields_nothing"
    assert [step.operation for step in result.trace] == [
        "AdminCreateUser", "InitiateAuth", "RespondToAuthChallenge", "RevokeToken", "InitiateAuth",
    ]
    assert result.trace[-1].request["AuthFlow"] == "REFRESH_TOKEN_AUTH"
    assert "AuthenticationResult" in result.trace[-1].response
    assert result.depth == 5  # found on the fifth level: nothing shorter breaks it
    # Minimal: no sequence of four requests breaks it.
    assert explore(flows=(), users=1, aliases=0, depth=4, progress=False, faults={"RevokeToken": forgetful_revoke}).ok
    # The hook put the real service function back.
    assert OPERATIONS["RevokeToken"] is load_all()["RevokeToken"]
    assert OPERATIONS["RevokeToken"].__module__ == "authflow.service.tokens"


def test_a_planted_storage_bug_is_found_in_one_step():
    result = explore(flows=(), users=1, aliases=0, depth=3, progress=False, faults={"AdminCreateUser": storing_create})
    assert result.violation.invariant == "validation_data_never_stored"
    assert [step.operation for step in result.trace] == ["AdminCreateUser"]


def test_only_the_selected_invariants_are_checked():
    result = explore(flows=(), users=1, aliases=0, depth=5, progress=False, faults={"RevokeToken": forgetful_revoke},
                     invariants=["status_declared", "session_single_use"])
    assert result.ok and result.invariants == ("status_declared", "session_single_use")
    with pytest.raises(ValueError, match="unknown invariant"):
        explore(flows=(), depth=1, progress=False, invariants=["no_such_law"])


def test_progress_is_reported():
    reports: list[Progress] = []
    explore(flows=(), users=1, aliases=0, depth=2, progress=reports.append)
    assert [r.depth for r in reports][-2:] == [0, 1]
    assert reports[-1].states > reports[0].states - 1 and reports[-1].frontier == 0


def test_a_trace_step_is_an_api_call_and_its_outcome():
    result = explore(flows=(), users=1, aliases=0, depth=6, progress=False, faults={"RevokeToken": forgetful_revoke})
    call, outcome = result.trace[3]
    assert call.startswith("RevokeToken {") and outcome == "{}"
    assert result.trace[-1].outcome.startswith('{"ChallengeParameters": {}, "AuthenticationResult"')
    # secrets are shortened, and the pool / client ids are given once, in the set-up
    assert "UserPoolId" not in result.trace[0].call and len(result.setup) == 2


# -- the self-service alphabet ------------------------------------------------------------------------


def test_self_service_keeps_every_invariant_with_stable_counts():
    runs = [explore(flows=(), users=2, aliases=1, depth=3, progress=False, self_service=True, seed=seed) for seed in (0, 7)]
    assert all(r.ok for r in runs)
    assert len({(r.states, r.transitions) for r in runs}) == 1
    plain = explore(flows=(), users=2, aliases=1, depth=3, progress=False)
    assert runs[0].states > plain.states  # the self-service requests reach states the admin ones do not


def test_self_service_codes_are_read_from_the_messages():
    result = explore(flows=(), users=1, aliases=0, depth=2, progress=False, self_service=True, graph=True)
    assert result.ok and result.universe.self_service
    labels = result.graph.labels
    signed_up = labels.index("alice: UNCONFIRMED, holds a confirm_sign_up code")
    after = {label: labels[target] for source, target, label in result.graph.edges if source == signed_up}
    # the code the caller read from the message confirms alice (and is used up); a wrong one does not
    assert after["confirm alice's sign-up"] == "alice: CONFIRMED, holds a confirm_sign_up code (stale)"
    assert after["confirm alice's sign-up with a wrong code"].startswith("alice: UNCONFIRMED")


def test_a_planted_code_bug_is_found_with_a_shortest_trace():
    faults = {"ConfirmForgotPassword": unchecked_reset}
    result = explore(flows=(), users=1, aliases=0, depth=4, progress=False, self_service=True, faults=faults)
    assert result.violation is not None and result.violation.invariant == "code_must_match"
    assert [step.operation for step in result.trace] == [
        "SignUp", "ConfirmSignUp", "ForgotPassword", "ConfirmForgotPassword",
    ]
    assert result.trace[-1].label == "reset alice's password with a wrong code"
    # Minimal: no three requests break it (a reset code needs a verified email first).
    assert explore(flows=(), users=1, aliases=0, depth=3, progress=False, self_service=True, faults=faults).ok
    assert OPERATIONS["ConfirmForgotPassword"].__module__ == "authflow.service.passwords"


# -- pool configurations ------------------------------------------------------------------------------


def test_an_mfa_pool_is_explored_through_sms_mfa():
    result = explore(flows=(), users=1, aliases=0, depth=4, progress=False, graph=True, pool_config={
        "PoolName": "mine", "MfaConfiguration": "ON", "SmsConfiguration": SMS_CONFIG,
    })
    assert result.ok
    assert any("SMS_MFA session (spent), holds tokens" in label for label in result.graph.labels)


def test_a_username_attribute_pool_with_its_own_policy():
    config = {"UsernameAttributes": ["email"],
              "Policies": {"PasswordPolicy": {"MinimumLength": 20, "TemporaryPasswordValidityDays": 2}}}
    result = explore(flows=(), users=2, aliases=1, depth=3, progress=False, pool_config=config)
    assert result.ok
    universe = result.universe
    assert universe.logins == ("alice@example.net", "bob@example.net") and universe.emails == ()
    assert len(universe.temporary) == 20 and universe.clock_steps == (180, 2 * 86400)


# -- the command line ---------------------------------------------------------------------------------


def test_cli_exits_0_when_no_invariant_is_violated(capsys):
    assert main(["explore", "--flows", "none", "--users", "1", "--aliases", "0", "--depth", "3"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[-1] == "no invariant violated"
    assert re.match(r"explored \d+ distinct states and \d+ transitions to depth 3 ", out)
    assert "explore: depth 3/3" in err  # progress goes to stderr


def test_cli_prints_the_shortest_trace_and_exits_1(capsys, monkeypatch):
    load_all()
    monkeypatch.setitem(OPERATIONS, "RevokeToken", forgetful_revoke(OPERATIONS["RevokeToken"]))
    assert main(["explore", "--flows", "none", "--users", "1", "--aliases", "0", "--depth", "6", "--quiet"]) == 1
    out, err = capsys.readouterr()
    assert err == ""
    assert "invariant violated: revoked_refresh_token_yields_nothing" in out
    calls = re.findall(r"^  (\d)\. (\w+) ", out, flags=re.M)
    assert calls == [("1", "AdminCreateUser"), ("2", "InitiateAuth"), ("3", "RespondToAuthChallenge"),
                     ("4", "RevokeToken"), ("5", "InitiateAuth")]
    assert out.count("\n     -> ") == 7  # every call (set-up included) with its response


def test_cli_explores_the_self_service_alphabet(capsys):
    assert main(["explore", "--flows", "none", "--users", "1", "--aliases", "0", "--depth", "2", "--quiet", "--self-service"]) == 0
    out = capsys.readouterr().out
    plain = explore(flows=(), users=1, aliases=0, depth=2, progress=False)
    states = int(re.search(r"explored (\d+) distinct states", out).group(1))
    assert states > plain.states and out.splitlines()[-1] == "no invariant violated"


def test_cli_selects_invariants(capsys, monkeypatch):
    load_all()
    monkeypatch.setitem(OPERATIONS, "RevokeToken", forgetful_revoke(OPERATIONS["RevokeToken"]))
    args = ["explore", "--users", "1", "--aliases", "0", "--depth", "5", "--quiet", "--invariant", "status_declared"]
    assert main(args) == 0
    assert "checking 1 invariant\n" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_:
        main(["explore", "--flows", "none", "--invariant", "no_such_law"])
    assert exit_.value.code == 2


def parse_dot(text: str) -> tuple[set[str], list[tuple[str, str, str]]]:
    """A strict reading of the subset of DOT that write_dot emits."""
    lines = text.splitlines()
    assert lines[0] == "digraph explore {" and lines[-1] == "}"
    string = r'"(?:[^"\\]|\\.)*"'
    nodes, edges = set(), []
    for line in lines[1:-1]:
        line = line.strip()
        if line.startswith("//") or re.fullmatch(r"(rankdir=LR|(node|edge) \[[^\]]*\]);", line):
            continue
        node = re.fullmatch(rf"(s\d+) \[label=({string})(, style=bold)?\];", line)
        edge = re.fullmatch(rf"(s\d+) -> (s\d+) \[label=({string})\];", line)
        assert node or edge, f"not DOT: {line!r}"
        if node:
            nodes.add(node.group(1))
        else:
            edges.append((edge.group(1), edge.group(2), edge.group(3)))
    return nodes, edges


def test_cli_writes_the_state_graph(tmp_path, capsys):
    path = tmp_path / "graph.dot"
    assert main(["explore", "--flows", "none", "--users", "1", "--aliases", "1", "--depth", "3", "--quiet", "--dot", str(path)]) == 0
    states = int(re.search(r"explored (\d+) distinct states", capsys.readouterr().out).group(1))
    nodes, edges = parse_dot(path.read_text(encoding="utf-8"))
    assert len(nodes) == states
    assert edges and all(a in nodes and b in nodes and a != b for a, b, _ in edges)
    assert ("s0", "s1", '"create alice"') in edges


def test_write_dot_needs_the_graph():
    with pytest.raises(ValueError):
        write_dot(explore(flows=(), users=1, aliases=0, depth=1, progress=False), "unused.dot")


def test_cli_reads_a_pool_configuration(tmp_path, capsys):
    path = tmp_path / "pool.json"
    path.write_text(json.dumps({"PoolName": "mine", "MfaConfiguration": "OPTIONAL", "SmsConfiguration": SMS_CONFIG,
                                "AliasAttributes": ["email"]}), encoding="utf-8")
    assert main(["explore", "--flows", "none", "--users", "1", "--depth", "3", "--quiet", "--pool-config", str(path)]) == 0
    assert "no invariant violated" in capsys.readouterr().out
    path.write_text("not json", encoding="utf-8")
    with pytest.raises(SystemExit) as exit_:
        main(["explore", "--flows", "none", "--pool-config", str(path)])
    assert exit_.value.code == 2
    path.write_text(json.dumps({"MfaConfiguration": "SOMETIMES"}), encoding="utf-8")
    assert main(["explore", "--flows", "none", "--depth", "1", "--quiet", "--pool-config", str(path)]) == 2
    assert "the pool could not be created" in capsys.readouterr().err


# -- SRP and custom sign-in (--flows) ------------------------------------------------------------------


def lax_srp_proof(real):
    """A planted bug: PASSWORD_VERIFIER accepts any proof (the claim's HMAC is never compared)."""
    import authflow.crypto.srp as srp_math

    def respond(engine, request):
        if request.get("ChallengeName") != "PASSWORD_VERIFIER":
            return real(engine, request)
        saved = srp_math.claim_matches
        srp_math.claim_matches = lambda **_: True
        try:
            return real(engine, request)
        finally:
            srp_math.claim_matches = saved

    return respond


def test_srp_and_custom_flows_keep_every_invariant_with_stable_counts():
    runs = [explore(users=1, aliases=0, depth=4, progress=False, flows=["srp", "custom"], seed=seed, graph=True)
            for seed in (0, 7)]
    assert all(r.ok for r in runs) and runs[0].universe.flows == ("srp", "custom")
    assert len({(r.states, r.transitions) for r in runs}) == 1
    plain = explore(flows=(), users=1, aliases=0, depth=4, progress=False)
    assert runs[0].states > plain.states
    labels = runs[0].graph.labels
    # a name no user has gets a simulated custom round through the client that hides unknown users
    assert "alice: absent, holds a CUSTOM_CHALLENGE session" in labels
    assert "alice: FORCE_CHANGE_PASSWORD, holds an SRP block" in labels
    assert "alice: FORCE_CHANGE_PASSWORD, holds an SRP block (spent)" in labels  # expired
    assert len(runs[0].setup) == 3  # the pool, the app client, the client that hides unknown users
    with pytest.raises(ValueError, match="unknown flow"):
        explore(depth=1, progress=False, flows=["kerberos"])


def test_a_planted_srp_bug_is_found_with_a_shortest_trace():
    faults = {"RespondToAuthChallenge": lax_srp_proof}
    result = explore(users=1, aliases=0, depth=4, progress=False, flows=["srp"], faults=faults)
    assert result.violation is not None and result.violation.invariant == "password_must_match"
    assert [step.operation for step in result.trace] == ["AdminCreateUser", "InitiateAuth", "RespondToAuthChallenge"]
    assert result.trace[1].request["AuthFlow"] == "USER_SRP_AUTH"
    # alice's password is the temporary one: the new one is a wrong proof, and was let through
    assert result.trace[-1].label == "prove alice's SRP challenge with the new password"
    assert result.trace[-1].response["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    assert "PASSWORD_CLAIM_SIGNATURE" in result.trace[-1].call and "…" in result.trace[-1].call  # shortened
    # Minimal: no two requests break it; and the real service is back.
    assert explore(users=1, aliases=0, depth=2, progress=False, flows=["srp"], faults=faults).ok
    assert OPERATIONS["RespondToAuthChallenge"].__module__ == "authflow.service.sign_in"


def test_cli_explores_the_other_flows(capsys):
    assert main(["explore", "--users", "1", "--aliases", "0", "--depth", "2", "--quiet", "--flows", "srp,custom"]) == 0
    out = capsys.readouterr().out
    states = int(re.search(r"explored (\d+) distinct states", out).group(1))
    assert states > explore(flows=(), users=1, aliases=0, depth=2, progress=False).states
    with pytest.raises(SystemExit) as exit_:
        main(["explore", "--depth", "1", "--quiet", "--flows", "nope"])
    assert exit_.value.code == 2


# -- device tracking (--flows devices) ----------------------------------------------------------------


def forget_that_keeps(real):
    """A planted bug: ForgetDevice checks its request and answers as usual, but the device stays."""

    def forget(engine, request):
        kept = engine.store.snapshot()
        response = real(engine, request)
        engine.store.restore(kept)
        return response

    return forget


def test_device_flows_keep_every_invariant_with_stable_counts():
    runs = [explore(users=1, aliases=0, depth=3, progress=False, flows=["devices"], seed=seed) for seed in (0, 7)]
    assert all(r.ok for r in runs) and runs[0].universe.flows == ("devices",)
    assert len({(r.states, r.transitions) for r in runs}) == 1
    # the pool tracks devices (and has SMS MFA a user may turn on); the users start CONFIRMED
    assert [step.operation for step in runs[0].setup] == [
        "CreateUserPool", "CreateUserPoolClient", "AdminCreateUser", "AdminSetUserPassword"]
    assert runs[0].setup[0].request["DeviceConfiguration"] == {
        "ChallengeRequiredOnNewDevice": True, "DeviceOnlyRememberedOnUserPrompt": False}
    assert runs[0].setup[0].request["MfaConfiguration"] == "OPTIONAL"


def test_a_device_sign_in_is_explored_to_its_tokens():
    result = explore(users=1, aliases=0, depth=5, progress=False, flows=["devices"], graph=True)
    assert result.ok
    labels = set(result.graph.labels)
    # sign in, confirm the device, sign in with it, DEVICE_SRP_AUTH, DEVICE_PASSWORD_VERIFIER: tokens
    assert "alice: CONFIRMED, holds a DEVICE_PASSWORD_VERIFIER session (spent), holds tokens, holds a device (REMEMBERED)" \
        in labels
    assert any("holds a device (NOT_REMEMBERED)" in label for label in labels)  # UpdateDeviceStatus
    assert any("holds a device (forgotten)" in label for label in labels)  # ForgetDevice
    edges = {label for _, _, label in result.graph.edges}
    assert {"answer alice's device challenge wrongly", "refresh alice's tokens with the device key",
            "sign in as alice with the new password and alice's device", "turn on SMS MFA for alice"} <= edges


def test_a_forgotten_device_that_still_signs_in_is_found():
    faults = {"ForgetDevice": forget_that_keeps}
    result = explore(users=1, aliases=0, depth=4, progress=False, flows=["devices"], faults=faults)
    assert result.violation is not None and result.violation.invariant == "forgotten_device_never_signs_in"
    assert [step.operation for step in result.trace] == ["InitiateAuth", "ConfirmDevice", "ForgetDevice", "InitiateAuth"]
    assert result.trace[-1].request["AuthParameters"]["DEVICE_KEY"] == result.trace[2].request["DeviceKey"]
    # Minimal: an unconfirmed device cannot be forgotten, so no three requests break it.
    assert explore(users=1, aliases=0, depth=3, progress=False, flows=["devices"], faults=faults).ok
    assert OPERATIONS["ForgetDevice"].__module__ == "authflow.service.devices"


def test_a_device_of_another_user_that_signs_in_is_found(monkeypatch):
    import authflow.core.devices as device_core
    from authflow.errors import ResourceNotFoundException

    def anyones(device, user):  # the planted bug: a device of any user of the pool will do
        if device is None:
            raise ResourceNotFoundException(device_core.DEVICE_NOT_FOUND)
        return device

    monkeypatch.setattr(device_core, "owned", anyones)
    result = explore(users=2, aliases=0, depth=2, progress=False, flows=["devices"])
    assert result.violation is not None and result.violation.invariant == "device_single_owner"
    assert [step.label for step in result.trace] == [
        "sign in as alice with the new password", "sign in as bob with the new password and alice's device"]
    assert explore(users=2, aliases=0, depth=1, progress=False, flows=["devices"]).ok


def test_mfa_skipped_on_a_device_that_is_not_remembered_is_found(monkeypatch):
    import authflow.core.devices as device_core

    def skips(pool, device):  # the planted bug: any device the user has stands in for MFA
        return device is not None and bool((device_core.tracking(pool) or {}).get("ChallengeRequiredOnNewDevice"))

    monkeypatch.setattr(device_core, "skips_mfa", skips)
    result = explore(users=1, aliases=0, depth=3, progress=False, flows=["devices"])
    assert result.violation is not None and result.violation.invariant == "mfa_skipped_only_on_remembered_devices"
    assert [step.label for step in result.trace] == [
        "sign in as alice with the new password", "turn on SMS MFA for alice",
        "sign in as alice with the new password and alice's device"]
    assert "AuthenticationResult" in result.trace[-1].response  # no SMS_MFA on an unconfirmed device
    assert explore(users=1, aliases=0, depth=2, progress=False, flows=["devices"]).ok


def test_device_tokens_without_the_device_key_are_found(monkeypatch):
    import authflow.service.devices as device_service

    real = device_service.bind_tokens

    def unbound(engine, tx, pool, user, device, **kwargs):  # the planted bug: a carried device binds nothing
        return (None, None) if device is not None else real(engine, tx, pool, user, device, **kwargs)

    monkeypatch.setattr(device_service, "bind_tokens", unbound)
    result = explore(users=1, aliases=0, depth=2, progress=False, flows=["devices"])
    assert result.violation is not None and result.violation.invariant == "device_sign_in_tokens_carry_its_key"
    assert [step.label for step in result.trace] == [
        "sign in as alice with the new password", "sign in as alice with the new password and alice's device"]
    assert explore(users=1, aliases=0, depth=1, progress=False, flows=["devices"]).ok


def test_new_device_metadata_for_a_known_device_is_found(monkeypatch):
    import authflow.service.devices as device_service

    real = device_service.bind_tokens

    def issuing(engine, tx, pool, user, device, **kwargs):  # the planted bug: a new device at every sign-in
        _, metadata = real(engine, tx, pool, user, None, **kwargs)
        key, _ = real(engine, tx, pool, user, device, **kwargs) if device is not None else (metadata["DeviceKey"], None)
        return key, metadata

    monkeypatch.setattr(device_service, "bind_tokens", issuing)
    result = explore(users=1, aliases=0, depth=2, progress=False, flows=["devices"])
    assert result.violation is not None
    assert result.violation.invariant == "new_device_metadata_only_for_unknown_devices"
    assert [step.label for step in result.trace] == [
        "sign in as alice with the new password", "sign in as alice with the new password and alice's device"]
    assert explore(users=1, aliases=0, depth=1, progress=False, flows=["devices"]).ok


def test_cli_explores_the_device_flows(capsys):
    assert main(["explore", "--users", "1", "--aliases", "0", "--depth", "2", "--quiet", "--flows", "devices"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"explored \d+ distinct states", out) and out.splitlines()[-1] == "no invariant violated"
    assert f"checking {len(INVARIANTS)} invariants" in out


# -- groups and TOTP (--flows groups, --flows totp) ---------------------------------------------------

ON = {"MfaConfiguration": "ON"}


def test_group_and_totp_flows_keep_every_invariant_with_stable_counts():
    for flows, config in ((["groups"], None), (["totp"], None), (["totp"], ON)):
        runs = [explore(users=1, aliases=0, depth=3, progress=False, flows=flows, pool_config=config, seed=seed)
                for seed in (0, 7)]
        assert all(r.ok for r in runs), [r.violation for r in runs]
        assert len({(r.states, r.transitions) for r in runs}) == 1, flows
    groups = explore(users=1, aliases=0, depth=1, progress=False, flows=["groups"])
    assert [(s.operation, s.request.get("GroupName")) for s in groups.setup[:3]] == [
        ("CreateUserPool", None), ("CreateGroup", "staff"), ("CreateGroup", "admins")]
    totp = explore(users=1, aliases=0, depth=1, progress=False, flows=["totp"])
    assert totp.setup[1].request["MfaConfiguration"] == "OPTIONAL" and totp.universe.clock_steps[-1] == 30
    # an OPTIONAL pool's users start enrolled (a verified, preferred authenticator); under ON nobody is
    assert [s.operation for s in totp.setup[-3:]] == ["AssociateSoftwareToken", "VerifySoftwareToken",
                                                      "SetUserMFAPreference"]
    on = explore(users=1, aliases=0, depth=1, progress=False, flows=["totp"], pool_config=ON)
    assert on.setup[1].request["MfaConfiguration"] == "ON" and on.setup[-1].operation == "AdminSetUserPassword"


def test_totp_sign_ins_and_mfa_setup_are_explored_to_their_tokens():
    optional = explore(users=1, aliases=0, depth=5, progress=False, flows=["totp"], graph=True)
    on = explore(users=1, aliases=0, depth=4, progress=False, flows=["totp"], pool_config=ON, graph=True)
    assert optional.ok and on.ok
    edges = {label for _, _, label in optional.graph.edges}
    assert {f"answer alice's SOFTWARE_TOKEN_MFA with the {which} code" for which in
            ("current", "previous", "replayed", "wrong")} <= edges
    assert {"advance the clock 30 s", "associate an authenticator with alice's access token",
            "verify alice's authenticator with the access token", "turn off TOTP MFA for alice",
            "turn on TOTP MFA for alice"} <= edges
    assert {"associate an authenticator in alice's MFA_SETUP session", "verify alice's authenticator in the MFA_SETUP session",
            "answer alice's MFA_SETUP"} <= {label for _, _, label in on.graph.edges}
    assert any("holds tokens" in label for label in on.graph.labels)  # MFA_SETUP completed within four requests


def lenient_codes(monkeypatch, *, replays: bool):
    """A planted bug in the TOTP decision: wrong codes accepted at sign-in (`replays`
    False), or used codes accepted again (`replays` True)."""
    import authflow.core.mfa as mfa_core
    from authflow.crypto import totp
    from authflow.errors import CodeMismatchException

    real = mfa_core.accepted_step

    def accepted(secret, code, *, now, last_step, setup):
        if replays:
            return real(secret, code, now=now, last_step=None, setup=setup)
        try:
            return real(secret, code, now=now, last_step=last_step, setup=setup)
        except CodeMismatchException:
            if setup:
                raise
            return totp.step_of(now)

    monkeypatch.setattr(mfa_core, "accepted_step", accepted)


def test_a_wrong_totp_code_that_signs_in_is_found(monkeypatch):
    lenient_codes(monkeypatch, replays=False)
    result = explore(users=1, aliases=0, depth=2, progress=False, flows=["totp"])
    assert result.violation is not None and result.violation.invariant == "tokens_only_after_the_configured_factor"
    assert [step.label for step in result.trace] == [
        "sign in as alice with the new password", "answer alice's SOFTWARE_TOKEN_MFA with the wrong code"]
    assert explore(users=1, aliases=0, depth=1, progress=False, flows=["totp"]).ok


def test_a_replayed_totp_code_that_signs_in_is_found(monkeypatch):
    lenient_codes(monkeypatch, replays=True)
    result = explore(users=1, aliases=0, depth=2, progress=False, flows=["totp"])
    assert result.violation is not None and result.violation.invariant == "totp_code_accepted_once"
    # the set-up's VerifySoftwareToken used this step's code: the sign-in's "current" code is a replay
    assert [step.label for step in result.trace] == [
        "sign in as alice with the new password", "answer alice's SOFTWARE_TOKEN_MFA with the current code"]
    assert explore(users=1, aliases=0, depth=1, progress=False, flows=["totp"]).ok


def test_a_sign_in_that_skips_the_authenticator_is_found(monkeypatch):
    import authflow.core.mfa as mfa_core

    real = mfa_core.mfa_step
    monkeypatch.setattr(mfa_core, "mfa_step", lambda pool, user, *, chosen=None: (
        None if real(pool, user, chosen=chosen) == "SOFTWARE_TOKEN_MFA" else real(pool, user, chosen=chosen)))
    only = ["tokens_only_after_the_configured_factor"]
    result = explore(users=1, aliases=0, depth=1, progress=False, flows=["totp"], invariants=only)
    assert result.violation is not None and result.violation.invariant == only[0]
    assert [step.label for step in result.trace] == ["sign in as alice with the new password"]


def clear_secret(real):
    """A planted bug: AssociateSoftwareToken also keeps the SecretCode it hands out, in the clear."""
    from authflow.core.auth import session_id

    def associate(engine, request):
        response = real(engine, request)
        with engine.store.transaction() as tx:
            record = tx.get_session(session_id(request["Session"]))  # the explored path: by MFA_SETUP Session
            user = tx.get_user(record.pool_id, record.username_key)
            tx.put_user(replace(user, pending_software_token=response["SecretCode"].encode(), version=user.version + 1))
        return response

    return associate


def test_a_totp_secret_stored_in_the_clear_is_found():
    faults = {"AssociateSoftwareToken": clear_secret}
    result = explore(users=1, aliases=0, depth=2, progress=False, flows=["totp"], pool_config=ON, faults=faults)
    assert result.violation is not None and result.violation.invariant == "totp_secrets_never_stored"
    assert [step.label for step in result.trace] == [
        "sign in as alice with the new password", "associate an authenticator in alice's MFA_SETUP session"]
    assert explore(users=1, aliases=0, depth=1, progress=False, flows=["totp"], pool_config=ON, faults=faults).ok
    assert OPERATIONS["AssociateSoftwareToken"].__module__ == "authflow.service.mfa"


def test_group_claims_out_of_precedence_order_are_found(monkeypatch):
    import authflow.core.groups as group_core

    monkeypatch.setattr(group_core, "claim_order", lambda groups: sorted(groups, key=lambda g: g.name))
    result = explore(users=1, aliases=0, depth=3, progress=False, flows=["groups"])
    assert result.violation is not None and result.violation.invariant == "tokens_name_the_users_groups"
    assert [step.label for step in result.trace] == [
        "add alice to staff", "add alice to admins", "sign in as alice with the new password"]
    assert explore(users=1, aliases=0, depth=2, progress=False, flows=["groups"]).ok


def keep_member(real):
    """A planted bug: AdminRemoveUserFromGroup checks its request and answers as usual, but the member stays."""

    def remove(engine, request):
        kept = engine.store.snapshot()
        response = real(engine, request)
        engine.store.restore(kept)
        return response

    return remove


def test_a_removed_member_whose_tokens_keep_the_group_is_found():
    faults = {"AdminRemoveUserFromGroup": keep_member}
    result = explore(users=1, aliases=0, depth=3, progress=False, flows=["groups"], faults=faults)
    assert result.violation is not None and result.violation.invariant == "removed_members_lose_the_group"
    assert [step.label for step in result.trace] == [
        "add alice to staff", "remove alice from staff", "sign in as alice with the new password"]
    assert explore(users=1, aliases=0, depth=2, progress=False, flows=["groups"], faults=faults).ok


def test_cli_explores_the_group_and_totp_flows(capsys):
    for flows in ("groups", "totp", "groups,totp"):
        assert main(["explore", "--users", "1", "--aliases", "0", "--depth", "2", "--quiet", "--flows", flows]) == 0
        assert capsys.readouterr().out.splitlines()[-1] == "no invariant violated"


# -- the default run: the admin alphabet and the device, group and TOTP families --------------------------


def test_the_default_run_is_the_wider_alphabet():
    from authflow.explore import DEFAULT_FAMILY_USERS, DEFAULT_FLOWS, DEPTH, DEVICE_CONFIGURATION

    result = explore(depth=1, progress=False)
    assert result.ok and result.universe.flows == DEFAULT_FLOWS == ("devices", "groups", "totp")
    assert result.universe.names == ("alice", "bob") and result.universe.family_users == DEFAULT_FAMILY_USERS == 1
    assert DEPTH == 6  # the default run's depth; explicit --flows keep FLOWS_DEPTH
    ops = [s.operation for s in result.setup]
    assert ops.count("CreateGroup") == 2 and "SetUserPoolMfaConfig" in ops
    assert result.setup[0].request["DeviceConfiguration"] == DEVICE_CONFIGURATION
    # only the first user is enrolled in TOTP (the family acts for it); both start CONFIRMED
    assert ops.count("VerifySoftwareToken") == 1 and ops.count("AdminSetUserPassword") == 2
    assert result.universe.clock_steps == (180, 7 * 86400, 30)
    admin = explore(depth=1, progress=False, flows=())
    assert admin.universe.flows == () and admin.states < result.states
    # a pool configuration of the caller's own is explored as written: no families unless named
    own = explore(depth=1, progress=False, pool_config={"PoolName": "mine"})
    assert own.universe.flows == () and [s.operation for s in own.setup] == ["CreateUserPool", "CreateUserPoolClient"]


def test_the_default_run_keeps_its_counts_at_small_depths():
    """The default alphabet's figures at small bounds, pinned: a change of the alphabet, the
    set-up or the digest shows here (update them on purpose, with docs/benchmarks.md)."""
    result = explore(depth=2, progress=False, graph=True)
    assert result.ok, result.violation
    assert (result.states, result.transitions, result.depth) == (232, 997, 2)
    one = explore(users=1, depth=3, progress=False)
    assert one.ok and (one.states, one.transitions) == (557, 3668)
    edges = {label for _, _, label in result.graph.edges}
    assert {"add alice to staff", "delete the group admins", "advance the clock 30 s",
            "answer alice's SOFTWARE_TOKEN_MFA with the current code", "sign in as bob with the new password",
            "GlobalSignOut with bob's access token"} <= edges
    # the listings are read-only: requests from every state, never an edge to another one
    assert "list the members of staff" not in edges and "list alice's groups" not in edges
    assert not any(label.startswith("add bob to") for label in edges)  # the families act for the first user only


def test_cli_runs_the_default_alphabet(capsys):
    assert main(["explore", "--users", "1", "--aliases", "0", "--depth", "2", "--quiet"]) == 0
    default = capsys.readouterr().out
    assert main(["explore", "--users", "1", "--aliases", "0", "--depth", "2", "--quiet", "--flows", "none"]) == 0
    admin = capsys.readouterr().out

    def states(out: str) -> int:
        return int(re.search(r"explored ([\d,]+) distinct states", out).group(1).replace(",", ""))

    assert states(default) > states(admin)
    assert main(["explore", "--depth", "1", "--quiet", "--family-users", "2"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "no invariant violated"
    with pytest.raises(SystemExit):
        main(["explore", "--users", "1", "--family-users", "2"])


def test_the_default_run_is_deterministic(monkeypatch):
    runs = [explore(depth=2, progress=False, seed=seed) for seed in (0, 7)]
    assert all(r.ok for r in runs) and len({(r.states, r.transitions) for r in runs}) == 1
    from authflow.adapters import memory

    monkeypatch.setattr(memory._PoolUsers, "unlink_member", half_unlink)
    traces = [explore(users=1, aliases=0, depth=2, progress=False).trace for _ in range(2)]
    assert traces[0] == traces[1]  # the same requests and responses, to the last token


def half_unlink(self, name, username_key):
    """A planted store bug: leaving a group forgets the group's side of the membership
    (ListUsersInGroup no longer lists the user; AdminListGroupsForUser still lists the group)."""
    rest = self.members[name] - {username_key}
    if rest:
        self.members[name] = rest
    else:
        del self.members[name]


def test_a_membership_only_one_listing_shows_is_found_in_the_default_run(monkeypatch):
    from authflow.adapters import memory

    monkeypatch.setattr(memory._PoolUsers, "unlink_member", half_unlink)
    result = explore(users=1, aliases=0, depth=2, progress=False)
    assert result.violation is not None and result.violation.invariant == "group_memberships_agree"
    assert [step.label for step in result.trace] == ["add alice to staff", "delete alice"]
    assert explore(users=1, aliases=0, depth=1, progress=False).ok


def test_a_listing_that_misses_a_group_is_found_in_the_default_run():
    faults = {"AdminListGroupsForUser": lambda real: lambda engine, request: {**real(engine, request), "Groups": []}}
    result = explore(users=1, aliases=0, depth=2, progress=False, faults=faults)
    assert result.violation is not None and result.violation.invariant == "group_memberships_agree"
    assert [step.label for step in result.trace] == ["add alice to staff", "list alice's groups"]
    assert explore(users=1, aliases=0, depth=1, progress=False, faults=faults).ok


def associate_replaces(real):
    """A planted bug: AssociateSoftwareToken by access token makes the new secret the user's
    verified authenticator at once (the working one is replaced before the new one is verified)."""
    from authflow.invariants.reading import access_owner

    def associate(engine, request):
        response = real(engine, request)
        if request.get("AccessToken"):
            pool_id, sub = access_owner(request)
            with engine.store.transaction() as tx:
                user = tx.get_user_by_sub(pool_id, sub)
                if user.software_token is not None:
                    token = replace(user.software_token, secret=user.pending_software_token)
                    tx.put_user(replace(user, software_token=token, version=user.version + 1))
        return response

    return associate


def test_an_association_that_replaces_the_authenticator_is_found_in_the_default_run():
    faults = {"AssociateSoftwareToken": associate_replaces}
    result = explore(users=1, aliases=0, depth=4, progress=False, faults=faults)
    assert result.violation is not None and result.violation.invariant == "mfa_names_only_verified_factors"
    # the set-up verified with this time step's code: a sign-in needs the next step's
    assert [step.label for step in result.trace] == [
        "sign in as alice with the new password", "advance the clock 30 s",
        "answer alice's SOFTWARE_TOKEN_MFA with the current code", "associate an authenticator with alice's access token"]
    assert explore(users=1, aliases=0, depth=3, progress=False, faults=faults).ok


@pytest.mark.slow
def test_a_forgotten_device_that_still_signs_in_is_found_in_the_default_run():
    """The device family's planted bug through the default alphabet (about 9,000 states, a
    minute on two shared cores): the first user is enrolled in TOTP, so its
    device is issued after a SOFTWARE_TOKEN_MFA answer in the next time step, and the
    shortest trace is six requests (breadth-first: every shorter sequence was checked)."""
    faults = {"ForgetDevice": forget_that_keeps}
    result = explore(users=1, aliases=0, depth=6, progress=False, faults=faults)
    assert result.violation is not None and result.violation.invariant == "forgotten_device_never_signs_in"
    assert [step.label for step in result.trace] == [
        "sign in as alice with the new password", "advance the clock 30 s",
        "answer alice's SOFTWARE_TOKEN_MFA with the current code", "confirm alice's device", "forget alice's device",
        "sign in as alice with the new password and alice's device"]
    assert result.trace[2].response["AuthenticationResult"]["NewDeviceMetadata"]["DeviceKey"] == \
        result.trace[-1].request["AuthParameters"]["DEVICE_KEY"]


# -- refresh-token rotation (--flows rotation) --------------------------------------------------------


def rotation_run(depth: int, **kwargs):
    return explore(users=1, aliases=0, depth=depth, progress=False, flows=["rotation"], **kwargs)


def test_rotation_flows_keep_every_invariant_with_stable_counts():
    runs = [rotation_run(3, seed=seed) for seed in (0, 7)]
    assert all(r.ok for r in runs), [r.violation for r in runs]
    assert len({(r.states, r.transitions) for r in runs}) == 1
    assert runs[0].universe.flows == ("rotation",) and runs[0].universe.clock_steps[-1] == 5
    # a second app client rotates refresh tokens (grace 5 s); the users start CONFIRMED and
    # signed in through it
    assert [step.operation for step in runs[0].setup] == [
        "CreateUserPool", "CreateUserPoolClient", "CreateUserPoolClient", "AdminCreateUser", "AdminSetUserPassword",
        "InitiateAuth"]
    assert runs[0].setup[-1].request["ClientId"] == runs[0].setup[2].response["UserPoolClient"]["ClientId"]
    assert runs[0].setup[2].request["RefreshTokenRotation"] == {"Feature": "ENABLED", "RetryGracePeriodSeconds": 5}
    # opt-in: neither the default run nor explicit other families have it
    assert "rotation" not in explore(users=1, aliases=0, depth=0, progress=False).universe.flows


def test_rotation_reaches_reuse_within_and_after_the_grace_period():
    result = rotation_run(3, graph=True)
    assert result.ok
    edges = {label for _, _, label in result.graph.edges}
    assert {"sign in as alice through the rotating client", "get alice's tokens with the latest rotating refresh token",
            "get alice's tokens with the previous rotating refresh token",
            "get alice's tokens with the oldest rotating refresh token",
            "revoke alice's latest rotating refresh token", "revoke alice's previous rotating refresh token",
            "advance the clock 5 s"} <= edges


def grace_forever(monkeypatch):
    """A planted bug: a rotated-out refresh token stays usable forever (the grace period ignored)."""
    from authflow.core import refresh_rotation

    monkeypatch.setattr(refresh_rotation, "within_grace", lambda marker, now: True)


def test_a_rotated_out_token_accepted_after_the_grace_period_is_found(monkeypatch):
    grace_forever(monkeypatch)
    result = rotation_run(3)
    assert result.violation is not None and result.violation.invariant == "rotated_token_only_within_grace"
    labels = [step.label for step in result.trace]  # alice starts signed in through the rotating client
    assert labels[0] == "get alice's tokens with the latest rotating refresh token"
    assert labels[1].startswith("advance the clock")  # any jump (the first in the alphabet: 180 s) crosses 5 s
    assert labels[2] == "get alice's tokens with the previous rotating refresh token"
    assert rotation_run(2).ok  # minimal: the grace period is crossed only by a clock jump


def test_a_family_not_revoked_on_reuse_is_found(monkeypatch):
    from authflow.service import refresh_rotation

    monkeypatch.setattr(refresh_rotation, "revoke_family", lambda engine, tx, family: None)
    result = rotation_run(4)
    assert result.violation is not None and result.violation.invariant == "reused_family_stays_revoked"
    labels = [step.label for step in result.trace]
    assert labels[0] == "get alice's tokens with the latest rotating refresh token"
    assert labels[1].startswith("advance the clock") and labels[2] == (
        "get alice's tokens with the previous rotating refresh token")
    assert result.trace[2].error.startswith("RefreshTokenReuseException")
    assert result.trace[3].operation in ("GetTokensFromRefreshToken", "GetUser") and result.trace[3].error is None
    # the reuse itself is refused (the exception), so three requests break nothing
    assert rotation_run(3).ok


def refresh_auth_by_rotation(real):
    """A planted bug: REFRESH_TOKEN_AUTH on a rotating client is served as GetTokensFromRefreshToken."""

    def initiate(engine, request):
        if request.get("AuthFlow") != "REFRESH_TOKEN_AUTH":
            return real(engine, request)
        rotated = OPERATIONS["GetTokensFromRefreshToken"](engine, {
            "ClientId": request["ClientId"], "RefreshToken": request["AuthParameters"]["REFRESH_TOKEN"]})
        return {"ChallengeParameters": {}, **rotated}

    return initiate


def test_refresh_token_auth_on_a_rotating_client_is_found():
    result = rotation_run(1, faults={"InitiateAuth": refresh_auth_by_rotation})
    assert result.violation is not None
    assert result.violation.invariant == "refresh_token_auth_refused_on_rotating_clients"
    assert [step.label for step in result.trace] == ["refresh alice's rotating tokens with REFRESH_TOKEN_AUTH"]


def current_only_revoke(real):
    """A planted bug: RevokeToken of a token rotated out of its family revokes nothing (only
    the family's current token is looked up)."""
    from authflow.core.tokens import token_hash

    def revoke(engine, request):
        with engine.store.transaction() as tx:
            current = tx.get_refresh_token(token_hash(request["Token"]))
        return real(engine, request) if current is not None else {}

    return revoke


def test_a_revoked_family_that_still_refreshes_is_found():
    result = rotation_run(3, faults={"RevokeToken": current_only_revoke})
    assert result.violation is not None and result.violation.invariant == "revoked_family_yields_nothing"
    assert [step.label for step in result.trace] == [
        "get alice's tokens with the latest rotating refresh token", "revoke alice's previous rotating refresh token",
        "get alice's tokens with the latest rotating refresh token"]
    assert rotation_run(2, faults={"RevokeToken": current_only_revoke}).ok


def test_the_rotation_family_has_its_own_default_depth_and_a_command_line(capsys):
    from authflow.explore import ROTATION_DEPTH

    result = explore(users=1, aliases=0, progress=False, flows=["rotation"])
    assert result.ok and result.depth == ROTATION_DEPTH == 4
    assert main(["explore", "--users", "1", "--aliases", "0", "--depth", "1", "--quiet", "--flows", "rotation"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "no invariant violated"
