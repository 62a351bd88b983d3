"""The conformance runner itself: matchers, variables, divergence detection, skipping,
clean-up, the CLI and the reports. (The scenarios' own verdicts on authflow are in
test_conformance_suite.py.)"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import textwrap
from datetime import datetime, timezone
from pathlib import Path

import pytest

from authflow.cli import main
from authflow.conformance import (
    BROKEN,
    FAILED,
    PASSED,
    SKIPPED,
    InProcessTarget,
    ScenarioError,
    load_suite,
    run_suite,
)
from authflow.conformance.matching import mismatches
from authflow.conformance.scenarios import scenarios_dir
from authflow.conformance.targets import Outcome
from authflow.conformance.values import UnboundVariable, render
from tests.conftest import TEST_CONFIG

FIXTURES = (scenarios_dir() / "_fixtures.yaml").read_text(encoding="utf-8")


def suite_of(tmp_path: Path, body: str, *, fixtures: bool = True):
    if fixtures:
        (tmp_path / "_fixtures.yaml").write_text(FIXTURES, encoding="utf-8")
    (tmp_path / "area.yaml").write_text(textwrap.dedent(body), encoding="utf-8")
    return load_suite(tmp_path)


def run(tmp_path: Path, body: str, target=None):
    suite = suite_of(tmp_path, body)
    target = target or InProcessTarget(TEST_CONFIG)
    return run_suite(suite, suite.scenarios, target), target


# -- values and matchers --------------------------------------------------------------------


def test_render_fills_whole_values_inner_text_merges_and_secret_hash():
    variables = {"pool": {"Id": "us-east-1_abc"}, "n": 3, "extra": {"B": 2, "C": None}}
    assert render("${pool.Id}", variables) == "us-east-1_abc"
    assert render("${n}", variables) == 3
    assert render("pool-${pool.Id}-${n}", variables) == "pool-us-east-1_abc-3"
    assert render({"A": 1, "C": 3, "$merge": "${extra}"}, variables) == {"A": 1, "B": 2}
    # The SECRET_HASH of the reference (§3.5.5): base64(HMAC-SHA256(secret, username + client id)).
    expected = base64.b64encode(hmac.new(b"secret", b"aliceclient", hashlib.sha256).digest()).decode()
    assert render({"$secret_hash": ["alice", "client", "secret"]}, {}) == expected
    with pytest.raises(UnboundVariable):
        render("${missing}", variables)


@pytest.mark.parametrize(("actual", "expect", "holds"), [
    ({"A": "x"}, {"A": "x"}, True),
    ({"A": "x"}, {"A": "y"}, False),
    ({"A": True}, {"A": 1}, False),  # a boolean is not a number
    ({}, {"A": {"present": False}}, True),
    ({"A": None}, {"A": {"present": False}}, False),
    ({"A": "abc"}, {"A": {"pattern": "a.c"}}, True),
    ({"A": "abcd"}, {"A": {"pattern": "a.c"}}, False),  # the whole string must match
    ({"A": datetime.now(timezone.utc)}, {"A": {"type": "timestamp"}}, True),
    ({"A": "2026-01-01"}, {"A": {"type": "timestamp"}}, False),
    ({"A": [1, 2]}, {"A": {"length": 2}}, True),
    ({"A": [1, 2]}, {"A": {"contains": [2]}}, True),
    ({"A": [1, 2]}, {"A": {"contains": [3]}}, False),
    ({"A": [{"Id": "p", "Status": "x"}]}, {"A": {"contains": [{"members": {"Id": "p"}}]}}, True),
    ({"A": [{"Id": "p", "Status": "x"}]}, {"A": {"contains": [{"Id": "p"}]}}, False),  # plain items: equal
    ({"A": [{"Id": "q"}]}, {"A": {"contains": [{"members": {"Id": "p"}}]}}, False),
    ({"A": {"B": {"C": 1}, "D": 2}}, {"A": {"members": {"B.C": 1}}}, True),
    ({"A": {"B": {"C": 1}}}, {"A": {"members": {"B.C": 2}}}, False),
    ({"A": [{"Name": "email", "Value": "a@b.c"}]}, {"A": {"attributes": {"email": "a@b.c", "phone_number": None}}}, True),
    ({"A": [{"Name": "email", "Value": "a@b.c"}]}, {"A": {"attributes": {"email": "x@b.c"}}}, False),
    ({"A": [{"Name": "email", "Value": "a@b.c"}]}, {"A": {"attribute_names": ["email", "sub"]}}, False),
    ({"A": "x"}, {"A": {"one_of": ["x", "y"]}}, True),
    ({"A": "x"}, {"A": {"not": "x"}}, False),
    ({"A": {"present": 1}}, {"A": {"equals": {"present": 1}}}, True),
    ({"Users": [{"Username": "bob"}]}, {"Users.0.Username": "bob"}, True),
    ({"Users": []}, {"Users.0.Username": "bob"}, False),
])
def test_matchers(actual, expect, holds):
    assert (mismatches(actual, expect, {}) == []) is holds


def test_jwt_matcher_reads_the_payload():
    def part(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    token = f"{part({'alg': 'none'})}.{part({'token_use': 'access', 'exp': 5})}.sig"
    assert mismatches({"T": token}, {"T": {"jwt": {"token_use": "access", "exp": {"type": "integer"}}}}, {}) == []
    assert mismatches({"T": token}, {"T": {"jwt": {"token_use": "id"}}}, {}) != []
    assert mismatches({"T": "not-a-jwt"}, {"T": {"jwt": {}}}, {}) != []


# -- the runner ------------------------------------------------------------------------------

ONE = """\
area: area
scenarios:
  - name: one
    doc: d
    evidence: D
    steps:
      - use: pool
      - call: AdminCreateUser
        request: {{UserPoolId: "${{pool_id}}", Username: alice, TemporaryPassword: "Temp-Pass-1a", MessageAction: SUPPRESS}}
        {outcome}
"""


def test_a_matching_scenario_passes_and_its_pool_is_deleted(tmp_path):
    results, target = run(tmp_path, ONE.format(outcome="expect: {User.UserStatus: FORCE_CHANGE_PASSWORD}"))
    assert [r.status for r in results] == [PASSED]
    assert target.client.list_user_pools(MaxResults=60)["UserPools"] == []


@pytest.mark.parametrize(("outcome", "problem"), [
    ("expect: {User.UserStatus: CONFIRMED}",
     "User.UserStatus: expected 'CONFIRMED', got 'FORCE_CHANGE_PASSWORD'"),
    ("error: {code: UsernameExistsException}", "expected UsernameExistsException, got success"),
    ("capture: {x: User.Nothing}", "capture x: User.Nothing is absent"),
])
def test_a_diverging_step_fails_the_scenario_and_says_how(tmp_path, outcome, problem):
    results, target = run(tmp_path, ONE.format(outcome=outcome))
    assert results[0].status == FAILED
    assert results[0].problems == [problem]
    assert results[0].step == "2 AdminCreateUser"
    assert target.client.list_user_pools(MaxResults=60)["UserPools"] == []  # cleaned up all the same


def test_a_wrong_error_message_is_a_divergence(tmp_path):
    body = ONE.format(outcome="") + textwrap.indent(textwrap.dedent("""\
      - call: AdminCreateUser
        request: {UserPoolId: "${pool_id}", Username: alice, MessageAction: SUPPRESS}
        error: {code: UsernameExistsException, message: "User exists"}
    """), "      ")
    results, _ = run(tmp_path, body)
    assert results[0].status == FAILED
    assert results[0].problems == ["message: expected 'User exists', got 'User account already exists'"]


def test_an_unset_variable_breaks_the_scenario_not_the_target(tmp_path):
    results, _ = run(tmp_path, ONE.format(outcome="").replace("${pool_id}", "${nope}"))
    assert results[0].status == BROKEN
    assert "nope" in results[0].reason


class NoHooks:
    """A target with no outbox or clock hook (and no users: every call fails)."""

    name, hooks = "bare", frozenset()

    def call(self, operation, request):
        return Outcome(None, "NotImplemented", "")

    def now(self):
        return datetime.now(timezone.utc)


def test_scenarios_needing_a_hook_the_target_lacks_are_skipped(tmp_path):
    body = """\
    area: area
    scenarios:
      - name: clock
        doc: d
        evidence: D
        steps:
          - use: pool
          - clock: {advance: 8d}
      - name: deliver
        doc: d
        evidence: D
        steps:
          - use: pool
          - deliver: {username: alice}
    """
    results, _ = run(tmp_path, body, target=NoHooks())
    assert [(r.status, r.reason) for r in results] == [
        (SKIPPED, "needs the clock hook(s), which this target does not offer"),
        (SKIPPED, "needs the outbox hook(s), which this target does not offer"),
    ]


def test_deliver_reads_the_newest_message_and_none_asserts_silence(tmp_path):
    body = """\
    area: area
    scenarios:
      - name: deliver
        doc: d
        evidence: D
        steps:
          - use: pool
          - call: AdminCreateUser
            request: {UserPoolId: "${pool_id}", Username: alice, DesiredDeliveryMediums: [EMAIL],
                      UserAttributes: [{Name: email, Value: a@example.com}]}
          - deliver: {username: alice}
            expect: {Medium: EMAIL, Destination: a@example.com, Code: {pattern: ".{6,}"}}
          - deliver: {username: alice, none: true}
          - call: AdminCreateUser
            request: {UserPoolId: "${pool_id}", Username: alice, MessageAction: RESEND, DesiredDeliveryMediums: [EMAIL]}
          - deliver: {username: alice, none: true}
    """
    results, _ = run(tmp_path, body)
    assert results[0].status == FAILED  # the RESEND did send a message
    assert results[0].step == "6 deliver"
    assert results[0].problems == ["expected no message to alice, got 1"]


def test_malformed_files_are_refused_on_loading(tmp_path):
    with pytest.raises(ScenarioError, match="unknown key"):
        suite_of(tmp_path, ONE.format(outcome="expext: {}"))
    with pytest.raises(ScenarioError, match="no fixture named 'pol'"):
        suite_of(tmp_path, ONE.format(outcome="").replace("use: pool", "use: pol"))
    with pytest.raises(ScenarioError, match="evidence"):
        suite_of(tmp_path, ONE.format(outcome="").replace("evidence: D", "evidence: Q"))
    with pytest.raises(ScenarioError, match="duration"):
        suite_of(tmp_path, ONE.format(outcome="").replace("- use: pool", "- clock: {advance: 8 days}"))


# -- the command -----------------------------------------------------------------------------


def test_the_command_reports_divergences_and_exits_1(tmp_path, capsys):
    suite_of(tmp_path, ONE.format(outcome="expect: {User.UserStatus: CONFIRMED}"))
    md, js = tmp_path / "r.md", tmp_path / "r.json"
    code = main(["conformance", "--in-process", "--scenarios-dir", str(tmp_path),
                 "--report", str(md), "--report", str(js)])
    out = capsys.readouterr().out
    assert code == 1
    assert "[1/1] FAIL area/one  (step 2 AdminCreateUser: User.UserStatus: expected 'CONFIRMED'" in out
    assert "| area | 0 | 1 | 0 | 0% |" in out
    assert "### area/one" in md.read_text()
    report = json.loads(js.read_text())
    assert report["scenarios"][0]["status"] == "failed"
    assert report["areas"] == {"area": {"failed": 1}}


def test_the_command_exits_0_when_everything_passes(tmp_path, capsys):
    suite_of(tmp_path, ONE.format(outcome="expect: {User.UserStatus: FORCE_CHANGE_PASSWORD}"))
    assert main(["conformance", "--in-process", "--scenarios-dir", str(tmp_path)]) == 0
    assert "[1/1] ok   area/one" in capsys.readouterr().out


def test_the_command_refuses_a_report_it_cannot_write(tmp_path):
    with pytest.raises(SystemExit):
        main(["conformance", "--in-process", "--report", str(tmp_path / "r.txt")])


def test_srp_answers_are_dated_by_the_targets_clock_after_time_travel(tmp_path):
    # The service checks TIMESTAMP against its own clock: after a clock step a real-time
    # date would be stale, and the right password would be refused.
    body = """\
    area: area
    scenarios:
      - name: srp
        doc: d
        evidence: D
        steps:
          - use: pool
          - use: user
          - clock: {advance: 2h}
          - call: InitiateAuth
            request: {ClientId: "${client_id}", AuthFlow: USER_SRP_AUTH, AuthParameters: {USERNAME: alice, SRP_A: {$srp_a: s}}}
            capture: {challenge: ChallengeParameters}
          - call: RespondToAuthChallenge
            request:
              ClientId: "${client_id}"
              ChallengeName: PASSWORD_VERIFIER
              ChallengeResponses: {$srp_answer: {with: s, pool: "${pool_id}", password: THE-PASSWORD, challenge: "${challenge}"}}
            expect: {AuthenticationResult.TokenType: Bearer}
    """
    results, _ = run(tmp_path, body.replace("THE-PASSWORD", "Correct-Horse-9"))
    assert [r.status for r in results] == [PASSED], results[0].problems
    results, _ = run(tmp_path, body.replace("THE-PASSWORD", "Wrong-Horse-9"))
    assert results[0].problems == ["expected success, got NotAuthorizedException: Incorrect username or password."]


def _device_server_signature(config: dict, group_key: str, device_key: str, srp_a: str, challenge: dict,
                             timestamp: str) -> str:
    """The server's side of DEVICE_PASSWORD_VERIFIER, from the reference
    (devices-groups-mfa.md §1.4) and the verifier alone: S = (A * v^u)^b."""
    from authflow.conformance.srp_client import N, h_hex, key_of, pad

    v = int.from_bytes(base64.b64decode(config["PasswordVerifier"]), "big")
    big_a, b = int(srp_a, 16), challenge["_b"]
    big_b = int(challenge["SRP_B"], 16)
    u = int(h_hex(pad(big_a) + pad(big_b)), 16)
    s = pow(big_a * pow(v, u, N) % N, b, N)
    message = (group_key.encode() + device_key.encode() + base64.b64decode(challenge["SECRET_BLOCK"])
               + timestamp.encode())
    return base64.b64encode(hmac.new(key_of(s, u), message, hashlib.sha256).digest()).decode()


def test_device_values_register_a_device_and_prove_it_as_the_reference_server_checks():
    from authflow.conformance.srp_client import G, K, N, pad

    group_key, device_key = "-AbCd1234", "us-east-1_2a9e6d8c-0b1f-4c3e-9d5a-7f6e5d4c3b2a"
    variables = {"$now": datetime(2026, 3, 5, 9, 7, 1, tzinfo=timezone.utc), "gk": group_key, "dk": device_key}
    spec = {"$device_registration": {"name": "dev", "group_key": "${gk}", "device_key": "${dk}"}}
    config = render(spec, variables)
    assert set(config) == {"PasswordVerifier", "Salt"}
    # 16 random bytes, padHex'd as both clients do: a leading zero byte drops out (so 15 or
    # fewer bytes once in 256 runs) and a high first bit gains a 0x00 (17 bytes).
    salt = base64.b64decode(config["Salt"])
    assert len(salt) <= 17 and bytes.fromhex(pad(int.from_bytes(salt, "big"))) == salt
    other = render(spec, {"gk": group_key, "dk": device_key})
    assert other["Salt"] != config["Salt"] and other["PasswordVerifier"] != config["PasswordVerifier"]  # fresh

    srp_a = render({"$device_srp_a": "dev"}, variables)
    assert 1 < int(srp_a, 16) < N
    b = 0x1234567890ABCDEF
    v = int.from_bytes(base64.b64decode(config["PasswordVerifier"]), "big")
    challenge = {"SRP_B": format((K * v + pow(G, b, N)) % N, "x"), "SALT": base64.b64decode(config["Salt"]).hex(),
                 "SECRET_BLOCK": base64.b64encode(b"block").decode(), "USERNAME": "alice", "_b": b}
    answer = render({"$device_answer": {"with": "dev", "challenge": challenge}}, variables)
    assert answer["USERNAME"] == "alice" and answer["DEVICE_KEY"] == device_key
    assert answer["PASSWORD_CLAIM_SECRET_BLOCK"] == challenge["SECRET_BLOCK"]
    assert answer["TIMESTAMP"] == "Thu Mar 5 09:07:01 UTC 2026"  # dated by the target's clock
    expected = _device_server_signature(config, group_key, device_key, srp_a, challenge, answer["TIMESTAMP"])
    assert answer["PASSWORD_CLAIM_SIGNATURE"] == expected

    wrong = render({"$device_answer": {"with": "dev", "challenge": challenge, "password": "other",
                                       "username": "typed"}}, variables)
    assert wrong["USERNAME"] == "typed" and wrong["PASSWORD_CLAIM_SIGNATURE"] != expected


def test_device_values_need_their_registration_and_their_members():
    with pytest.raises(UnboundVariable, match="device_registration dev"):
        render({"$device_srp_a": "dev"}, {})
    variables: dict = {}
    render({"$device_registration": {"name": "dev", "group_key": "-g", "device_key": "k_1"}}, variables)
    with pytest.raises(UnboundVariable, match="device_srp_a dev"):  # no SRP_A sent yet
        render({"$device_answer": {"with": "dev", "challenge": {}}}, variables)
    with pytest.raises(ScenarioError, match="needs name, group_key and device_key"):
        render({"$device_registration": {"name": "dev"}}, {})
    with pytest.raises(ScenarioError, match="needs with and challenge"):
        render({"$device_answer": {"with": "dev"}}, variables)


def test_a_device_sign_in_runs_end_to_end_and_a_wrong_device_proof_diverges(tmp_path):
    # The device fixtures and values against the engine, after time travel (the answer is
    # dated by the target's clock): the right device password signs in, another one is a
    # divergence of the scenario that expects success.
    body = """\
    area: area
    scenarios:
      - name: device
        doc: d
        evidence: D
        steps:
          - use: device-pool
          - use: user
          - use: device-sign-in
          - use: confirm-device
          - clock: {advance: 2h}
          - call: InitiateAuth
            request:
              ClientId: "${client_id}"
              AuthFlow: USER_PASSWORD_AUTH
              AuthParameters: {USERNAME: alice, PASSWORD: Correct-Horse-9, DEVICE_KEY: "${device_key}"}
            expect: {ChallengeName: DEVICE_SRP_AUTH}
            capture: {session: Session}
          - call: RespondToAuthChallenge
            request:
              ClientId: "${client_id}"
              ChallengeName: DEVICE_SRP_AUTH
              Session: "${session}"
              ChallengeResponses: {USERNAME: alice, DEVICE_KEY: "${device_key}", SRP_A: {$device_srp_a: dev}}
            capture: {session: Session, challenge: ChallengeParameters}
          - call: RespondToAuthChallenge
            request:
              ClientId: "${client_id}"
              ChallengeName: DEVICE_PASSWORD_VERIFIER
              Session: "${session}"
              ChallengeResponses: {$device_answer: {with: dev, challenge: "${challenge}"PASSWORD}}
            expect: {AuthenticationResult.AccessToken: {jwt: {device_key: "${device_key}"}}}
    """
    results, _ = run(tmp_path, body.replace("PASSWORD}", "}"))
    assert [r.status for r in results] == [PASSED], results[0].problems
    results, _ = run(tmp_path, body.replace("PASSWORD}", ", password: not-the-device-password}"))
    assert results[0].status == FAILED
    assert results[0].step == "8 RespondToAuthChallenge"
    assert results[0].problems == ["expected success, got NotAuthorizedException: Incorrect username or password."]


def test_the_command_lists_and_selects_scenarios_by_glob(capsys):
    assert main(["conformance", "--list", "--scenario", "srp/*", "--scenario", "wrong-password"]) == 0
    lines = capsys.readouterr().out.splitlines()
    ids = [line.split()[0] for line in lines]
    assert "srp/wrong-password-refused" in ids and "sign-in-errors/wrong-password" in ids
    assert all(i.startswith("srp/") or i == "sign-in-errors/wrong-password" for i in ids)
    assert "sign-in-errors/wrong-password  [O]  USER_PASSWORD_AUTH with a wrong password" in "\n".join(lines)
    with pytest.raises(SystemExit):
        main(["conformance", "--list", "--scenario", "no-such-*"])


def test_suite_variables_have_defaults_that_a_run_may_override(tmp_path):
    (tmp_path / "_fixtures.yaml").write_text(FIXTURES.replace(
        "sns_caller_arn: \"arn:aws:iam::123456789012:role/cognito-sms\"", "greeting: hello"), encoding="utf-8")
    (tmp_path / "area.yaml").write_text(textwrap.dedent("""\
        area: area
        scenarios:
          - name: var
            doc: d
            evidence: D
            steps:
              - use: pool
                with: {pool: {AdminCreateUserConfig: {InviteMessageTemplate: {EmailSubject: "${greeting}"}}}}
              - call: DescribeUserPool
                request: {UserPoolId: "${pool_id}"}
                expect: {UserPool.AdminCreateUserConfig.InviteMessageTemplate.EmailSubject: hi}
    """), encoding="utf-8")
    suite = load_suite(tmp_path)
    assert suite.variables == {"greeting": "hello"}
    target = InProcessTarget(TEST_CONFIG)
    assert run_suite(suite, suite.scenarios, target)[0].status == FAILED  # "hello" != "hi"
    assert run_suite(suite, suite.scenarios, target, variables={"greeting": "hi"})[0].status == PASSED


# -- $totp -----------------------------------------------------------------------------------

#: RFC 6238 Appendix B's SHA-1 seed, and its base32 form (a SecretCode as Cognito hands it out).
RFC_6238_KEY = b"12345678901234567890"
RFC_6238_SECRET = base64.b32encode(RFC_6238_KEY).decode().rstrip("=")


@pytest.mark.parametrize(("unix_time", "eight_digits"), [
    (59, "94287082"), (1111111109, "07081804"), (1111111111, "14050471"),
    (1234567890, "89005924"), (2000000000, "69279037"), (20000000000, "65353130"),
])
def test_totp_matches_the_published_test_vectors_of_rfc_6238(unix_time, eight_digits):
    from authflow.conformance.values import totp

    assert totp(RFC_6238_KEY, unix_time, digits=8) == eight_digits
    assert totp(RFC_6238_KEY, unix_time) == eight_digits[-6:]  # Cognito's 6 digits: the same value mod 10^6


def test_the_totp_value_is_dated_by_the_targets_clock_and_keeps_its_code():
    at_59 = datetime.fromtimestamp(59, tz=timezone.utc)
    variables = {"$now": at_59, "secret": RFC_6238_SECRET}
    assert render({"$totp": {"secret": "${secret}"}}, variables) == "287082"
    assert render({"$totp": {"secret": "secret"}}, variables) == "287082"  # a variable's name
    assert render({"$totp": {"secret": RFC_6238_SECRET.lower()}}, variables) == "287082"  # case-blind
    # step_offset moves by 30-second steps: the step after T=29 is T=59's.
    earlier = {"$now": datetime.fromtimestamp(29, tz=timezone.utc)}
    assert render({"$totp": {"secret": RFC_6238_SECRET, "step_offset": 1}}, earlier) == "287082"
    assert render({"$totp": {"secret": RFC_6238_SECRET}}, earlier) != "287082"
    # `as:` keeps the code, so a later step can send it again whatever the time.
    render({"UserCode": {"$totp": {"secret": RFC_6238_SECRET, "as": "kept"}}}, variables)
    assert variables["kept"] == "287082"


def test_the_totp_value_agrees_with_pyotp_for_a_cognito_sized_secret():
    import secrets

    import pyotp

    secret = base64.b32encode(secrets.token_bytes(32)).decode().rstrip("=")  # 52 characters, as authflow's
    now = datetime(2026, 3, 5, 9, 7, 1, tzinfo=timezone.utc)
    for offset in (-1, 0, 1):
        code = render({"$totp": {"secret": secret, "step_offset": offset}}, {"$now": now})
        assert code == pyotp.TOTP(secret).at(now.timestamp() + 30 * offset)


def test_the_totp_value_refuses_what_is_not_a_secret():
    with pytest.raises(ScenarioError, match="needs secret"):
        render({"$totp": {"step_offset": 1}}, {})
    with pytest.raises(ScenarioError, match="needs secret"):
        render({"$totp": {"secret": "ABC", "offset": 1}}, {})
    with pytest.raises(ScenarioError, match="not a base32 SecretCode"):
        render({"$totp": {"secret": "not base32!"}}, {})
    with pytest.raises(ScenarioError, match="step_offset"):
        render({"$totp": {"secret": RFC_6238_SECRET, "step_offset": "1"}}, {})
    with pytest.raises(UnboundVariable):
        render({"$totp": {"secret": "${never_captured}"}}, {})


def test_a_totp_sign_in_runs_end_to_end_and_a_reused_code_diverges(tmp_path):
    # After two hours of time travel a wall-clock code would be refused: the codes are dated
    # by the target's clock. The sign-in needs the next step's code (the clock moves 30 s);
    # sending the verification's own code again is refused as used, a divergence here.
    body = """\
    area: area
    scenarios:
      - name: totp
        doc: d
        evidence: D
        steps:
          - use: totp-pool
          - clock: {advance: 2h}
          - use: totp-user
          - clock: {advance: 30s}
          - call: InitiateAuth
            request:
              ClientId: "${client_id}"
              AuthFlow: USER_PASSWORD_AUTH
              AuthParameters: {USERNAME: alice, PASSWORD: Correct-Horse-9}
            expect: {ChallengeName: SOFTWARE_TOKEN_MFA}
            capture: {session: Session}
          - call: RespondToAuthChallenge
            request:
              ClientId: "${client_id}"
              ChallengeName: SOFTWARE_TOKEN_MFA
              Session: "${session}"
              ChallengeResponses: {USERNAME: alice, SOFTWARE_TOKEN_MFA_CODE: THE-CODE}
            expect: {AuthenticationResult.TokenType: Bearer}
    """
    results, _ = run(tmp_path, body.replace("THE-CODE", "{$totp: {secret: secret}}"))
    assert [r.status for r in results] == [PASSED], results[0].problems
    results, _ = run(tmp_path, body.replace("THE-CODE", '"${verify_code}"'))
    assert results[0].status == FAILED
    assert results[0].problems == ["expected success, got ExpiredCodeException: "
                                   "Your software token has already been used once."]
