"""CUSTOM_AUTH driven by DefineAuthChallenge / CreateAuthChallenge /
VerifyAuthChallengeResponse functions, through the public Client (issue 8)."""

from __future__ import annotations

import base64
import json

import pytest

from authflow.conformance.srp_client import SrpClient
from authflow.errors import (
    InvalidLambdaResponseException,
    InvalidParameterException,
    NotAuthorizedException,
    UserLambdaValidationException,
    UserNotConfirmedException,
    UserNotFoundException,
)
from tests.signin import NEW, TEMP, assert_tokens, refused, secret_hash
from tests.unit.test_triggers import Recorder, TriggerEnv, assert_common

QUESTIONS = [("2 + 2", "4"), ("capital of France", "Paris"), ("7 * 6", "42")]
INCORRECT = "Incorrect username or password."


class Quiz:
    """Three questions; tokens after three right answers, failure at the first wrong one."""

    def __init__(self) -> None:
        self.define_events: list[dict] = []
        self.create_events: list[dict] = []
        self.verify_events: list[dict] = []

    def define(self, event):
        self.define_events.append(json.loads(json.dumps(event)))
        rounds = event["request"]["session"]
        if rounds and not rounds[-1]["challengeResult"]:
            event["response"]["failAuthentication"] = True
        elif len(rounds) == len(QUESTIONS):
            event["response"]["issueTokens"] = True
        else:
            event["response"]["challengeName"] = "CUSTOM_CHALLENGE"
        return event

    def create(self, event):
        self.create_events.append(json.loads(json.dumps(event)))
        question, answer = QUESTIONS[len(event["request"]["session"])]
        event["response"].update(
            publicChallengeParameters={"question": question},
            privateChallengeParameters={"answer": answer},
            challengeMetadata=f"QUESTION-{len(event['request']['session']) + 1}",
        )
        return event

    def verify(self, event):
        self.verify_events.append(json.loads(json.dumps(event)))
        event["response"]["answerCorrect"] = event["request"]["challengeAnswer"] == \
            event["request"]["privateChallengeParameters"]["answer"]
        return event


def quiz_env(quiz: Quiz | None = None, *, app_kwargs=None, **functions):
    quiz = quiz or Quiz()
    functions = {
        "DefineAuthChallenge": quiz.define,
        "CreateAuthChallenge": quiz.create,
        "VerifyAuthChallengeResponse": quiz.verify,
        **functions,
    }
    env = TriggerEnv(**functions)
    pool = env.pool()
    app = env.app_id(pool, **(app_kwargs or {}))
    return env, quiz, pool, app


def confirmed(env, pool, username="alice"):
    env.user(pool, username, attributes=[{"Name": "email", "Value": "alice@example.com"}], password=None)
    env.client.admin_set_user_password(UserPoolId=pool, Username=username, Password=NEW, Permanent=True)


def start(env, app, username="alice", **params):
    return env.client.initiate_auth(ClientId=app, AuthFlow="CUSTOM_AUTH",
                                    AuthParameters={"USERNAME": username, **params})


def reply(env, app, response, answer, username="alice", **kw):
    return env.client.respond_to_auth_challenge(
        ClientId=app, ChallengeName="CUSTOM_CHALLENGE", Session=response["Session"],
        ChallengeResponses={"USERNAME": username, "ANSWER": answer}, **kw,
    )


def test_three_round_question_and_answer_sign_in():
    env, quiz, pool, app = quiz_env(PostAuthentication=Recorder())
    confirmed(env, pool)
    response = start(env, app)
    sessions = []
    for i, (question, answer) in enumerate(QUESTIONS):
        assert response["ChallengeName"] == "CUSTOM_CHALLENGE"
        assert response["ChallengeParameters"] == {"question": question, "USERNAME": "alice"}
        sessions.append(response["Session"])
        response = reply(env, app, response, answer, ClientMetadata={"round": str(i)})
    assert_tokens(response)
    assert len(set(sessions)) == 3  # a new session every round

    # Define saw the rounds so far, with each challenge's metadata and result.
    assert [len(e["request"]["session"]) for e in quiz.define_events] == [0, 1, 2, 3]
    assert quiz.define_events[-1]["request"]["session"] == [
        {"challengeName": "CUSTOM_CHALLENGE", "challengeResult": True, "challengeMetadata": f"QUESTION-{n}"}
        for n in (1, 2, 3)
    ]
    first = quiz.define_events[0]
    assert_common(first, "DefineAuthChallenge_Authentication", pool, "alice", app)
    assert first["request"]["userNotFound"] is False and first["request"]["clientMetadata"] == {}
    assert first["request"]["userAttributes"]["email"] == "alice@example.com"
    assert first["response"] == {"challengeName": None, "issueTokens": None, "failAuthentication": None}
    create = quiz.create_events[0]
    assert_common(create, "CreateAuthChallenge_Authentication", pool, "alice", app)
    assert create["request"]["challengeName"] == "CUSTOM_CHALLENGE"
    verify = quiz.verify_events[1]
    assert_common(verify, "VerifyAuthChallengeResponse_Authentication", pool, "alice", app)
    assert verify["request"]["privateChallengeParameters"] == {"answer": "Paris"}
    assert verify["request"]["challengeAnswer"] == "Paris"
    assert verify["request"]["clientMetadata"] == {"round": "1"}  # from RespondToAuthChallenge
    (post,) = env.functions["PostAuthentication"].events
    assert post["request"]["clientMetadata"] == {"round": "2"}


def test_admin_pair_and_a_replayed_session():
    env, _, pool, app = quiz_env()
    confirmed(env, pool)
    response = env.client.admin_initiate_auth(UserPoolId=pool, ClientId=app, AuthFlow="CUSTOM_AUTH",
                                              AuthParameters={"USERNAME": "alice"})
    for _, answer in QUESTIONS:
        previous = response
        response = env.client.admin_respond_to_auth_challenge(
            UserPoolId=pool, ClientId=app, ChallengeName="CUSTOM_CHALLENGE", Session=response["Session"],
            ChallengeResponses={"USERNAME": "alice", "ANSWER": answer},
        )
    assert_tokens(response)
    refused(NotAuthorizedException, "Invalid session for the user, session can only be used once.",
            reply, env, app, previous, QUESTIONS[-1][1])


def test_a_wrong_answer_fails_the_sign_in_and_uses_the_session():
    env, _, pool, app = quiz_env()
    confirmed(env, pool)
    response = start(env, app)
    refused(NotAuthorizedException, INCORRECT, reply, env, app, response, "5")
    refused(NotAuthorizedException, "Invalid session for the user, session can only be used once.",
            reply, env, app, response, "4")


def test_private_parameters_are_not_stored_in_the_clear():
    env, _, pool, app = quiz_env()
    confirmed(env, pool)
    start(env, app)
    (session,) = [r for r in env.snapshot()["sessions"].values() if r.challenge == "CUSTOM_CHALLENGE"]
    sealed = base64.b64decode(session.progress)
    assert len(sealed) > 40 and b"answer" not in sealed and b"QUESTION-1" not in sealed


def test_without_a_define_function_custom_auth_is_refused():
    env = TriggerEnv()
    pool = env.pool()
    app = env.app_id(pool)
    confirmed(env, pool)
    before = env.snapshot()
    refused(InvalidParameterException, "Custom auth lambda trigger is not configured for the user pool.",
            start, env, app)
    assert env.snapshot() == before


def test_the_flow_must_be_enabled_for_the_client():
    env, _, pool, app = quiz_env(app_kwargs={"ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH"]})
    confirmed(env, pool)
    refused(InvalidParameterException, "CUSTOM_AUTH flow not enabled for this client", start, env, app)


def test_unknown_users_legacy_and_enabled():
    env, quiz, pool, app = quiz_env()
    refused(UserNotFoundException, "User does not exist.", start, env, app, "nobody")
    assert quiz.define_events == []

    hidden = env.app_id(pool, PreventUserExistenceErrors="ENABLED")
    response = start(env, hidden, "nobody")
    assert response["ChallengeName"] == "CUSTOM_CHALLENGE"
    assert response["ChallengeParameters"] == {"question": "2 + 2", "USERNAME": "nobody"}
    assert quiz.define_events[-1]["request"]["userNotFound"] is True
    assert quiz.define_events[-1]["request"]["userAttributes"] == {}
    for _, answer in QUESTIONS[:-1]:
        response = reply(env, hidden, response, answer, "nobody")
    assert quiz.verify_events[-1]["request"]["userNotFound"] is True
    # Define says issueTokens: an unknown name still gets the wrong-password answer.
    refused(NotAuthorizedException, INCORRECT, reply, env, hidden, response, QUESTIONS[-1][1], "nobody")


def test_status_and_disabled_users_are_refused_before_any_function():
    env, quiz, pool, app = quiz_env()
    env.client.sign_up(ClientId=app, Username="bob", Password=NEW)
    refused(UserNotConfirmedException, "User is not confirmed.", start, env, app, "bob")
    confirmed(env, pool)
    env.client.admin_disable_user(UserPoolId=pool, Username="alice")
    refused(NotAuthorizedException, "User is disabled.", start, env, app)
    assert quiz.define_events == []


def test_a_temporary_password_must_still_be_replaced():
    env, _, pool, app = quiz_env()
    env.user(pool)  # FORCE_CHANGE_PASSWORD
    response = start(env, app)
    for _, answer in QUESTIONS:
        response = reply(env, app, response, answer)
    assert response["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    refused(NotAuthorizedException, INCORRECT,
            env.initiate, app, "alice", "Wrong1!xx")
    assert_tokens(env.respond(app, response["Session"], {"USERNAME": "alice", "NEW_PASSWORD": NEW}))
    assert env.status(pool) == "CONFIRMED"


def test_client_secret_is_required_on_every_step():
    env, _, pool, app_id = quiz_env()
    app = env.app(pool, GenerateSecret=True)
    confirmed(env, pool)
    client_id, secret = app["ClientId"], app["ClientSecret"]
    refused(NotAuthorizedException, f"Client {client_id} is configured for secret but secret was not received",
            start, env, client_id)
    response = start(env, client_id, SECRET_HASH=secret_hash(secret, "alice", client_id))
    refused(NotAuthorizedException, f"Client {client_id} is configured for secret but secret was not received",
            reply, env, client_id, response, "4")
    response = env.client.respond_to_auth_challenge(
        ClientId=client_id, ChallengeName="CUSTOM_CHALLENGE", Session=response["Session"],
        ChallengeResponses={"USERNAME": "alice", "ANSWER": "4",
                            "SECRET_HASH": secret_hash(secret, "alice", client_id)},
    )
    assert response["ChallengeName"] == "CUSTOM_CHALLENGE"


@pytest.mark.parametrize("step", ["DefineAuthChallenge", "CreateAuthChallenge"])
def test_a_failing_function_at_the_start_writes_nothing(step):
    quiz = Quiz()

    def broken(event):
        raise RuntimeError("no quiz today")

    env, _, pool, app = quiz_env(quiz, **{step: broken})
    confirmed(env, pool)
    before = env.snapshot()
    refused(UserLambdaValidationException, f"{step} failed with error no quiz today.", start, env, app)
    assert env.snapshot() == before


def test_a_failing_verify_leaves_the_session_answerable():
    state = {"fail": True}
    quiz = Quiz()

    def flaky_verify(event):
        if state["fail"]:
            raise RuntimeError("timeout")
        return quiz.verify(event)

    env, _, pool, app = quiz_env(quiz, VerifyAuthChallengeResponse=flaky_verify)
    confirmed(env, pool)
    response = start(env, app)
    before = env.snapshot()
    refused(UserLambdaValidationException, "VerifyAuthChallengeResponse failed with error timeout.",
            reply, env, app, response, "4")
    assert env.snapshot() == before
    state["fail"] = False
    assert reply(env, app, response, "4")["ChallengeName"] == "CUSTOM_CHALLENGE"


@pytest.mark.parametrize(("answer", "error"), [
    ({}, InvalidLambdaResponseException),  # neither tokens, failure nor a challenge
    ({"issueTokens": "yes"}, InvalidLambdaResponseException),
    ({"challengeName": "SMS_MFA"}, InvalidParameterException),
])
def test_unusable_define_answers(answer, error):
    def define(event):
        event["response"].update(answer)
        return event

    env, _, pool, app = quiz_env(DefineAuthChallenge=define)
    confirmed(env, pool)
    before = env.snapshot()
    with pytest.raises(error):
        start(env, app)
    assert env.snapshot() == before


def test_malformed_challenge_parameters_are_refused():
    def create(event):
        event["response"]["publicChallengeParameters"] = {"n": 4}
        return event

    env, _, pool, app = quiz_env(CreateAuthChallenge=create)
    confirmed(env, pool)
    refused(InvalidLambdaResponseException, "Unrecognizable lambda output", start, env, app)


def test_a_custom_session_answers_only_custom_challenges():
    env, _, pool, app = quiz_env()
    confirmed(env, pool)
    response = start(env, app)
    refused(InvalidParameterException,
            "Invalid challenge name NEW_PASSWORD_REQUIRED: the session expects an answer to CUSTOM_CHALLENGE",
            env.respond, app, response["Session"], {"USERNAME": "alice", "NEW_PASSWORD": NEW})
    refused(NotAuthorizedException, "Invalid session for the user.", reply, env, app, response, "4", "mallory")
    assert reply(env, app, response, "4")["ChallengeName"] == "CUSTOM_CHALLENGE"


# -- PreAuthentication for unknown users --------------------------------------------------------


def test_pre_authentication_sees_unknown_users_only_when_their_existence_is_hidden():
    env = TriggerEnv(PreAuthentication=Recorder())
    pool = env.pool()
    legacy = env.app_id(pool)
    hidden = env.app_id(pool, PreventUserExistenceErrors="ENABLED")
    refused(UserNotFoundException, "User does not exist.", env.initiate, legacy, "nobody", TEMP)
    assert env.functions["PreAuthentication"].events == []
    refused(NotAuthorizedException, INCORRECT, env.initiate, hidden, "nobody", TEMP)
    (event,) = env.functions["PreAuthentication"].events
    assert_common(event, "PreAuthentication_Authentication", pool, "nobody", hidden)
    assert event["request"]["userNotFound"] is True and event["request"]["userAttributes"] == {}


def test_custom_auth_calls_pre_authentication():
    quiz = Quiz()
    env, _, pool, app = quiz_env(quiz, PreAuthentication=Recorder(fail="closed"))
    confirmed(env, pool)
    refused(UserLambdaValidationException, "PreAuthentication failed with error closed.", start, env, app)
    assert quiz.define_events == []



# -- CUSTOM_AUTH beginning with SRP_A ------------------------------------------------------------


class SrpQuiz(Quiz):
    """After SRP_A, the password proof; then the quiz on the CUSTOM_CHALLENGE rounds only."""

    def __init__(self) -> None:
        super().__init__()
        self.rounds: list[list[dict]] = []

    def define(self, event):
        rounds = event["request"]["session"]
        self.rounds.append(json.loads(json.dumps(rounds)))
        if rounds and rounds[-1]["challengeName"] == "SRP_A":
            event["response"]["challengeName"] = "PASSWORD_VERIFIER"
            return event
        event["request"]["session"] = [r for r in rounds if r["challengeName"] == "CUSTOM_CHALLENGE"]
        return super().define(event)

    def create(self, event):
        event["request"]["session"] = [r for r in event["request"]["session"] if r["challengeName"] == "CUSTOM_CHALLENGE"]
        return super().create(event)


def srp_start(env, app, srp):
    return start(env, app, CHALLENGE_NAME="SRP_A", SRP_A=srp.srp_a)


def prove(env, app, started, srp, password=NEW):
    return env.client.respond_to_auth_challenge(
        ClientId=app, ChallengeName="PASSWORD_VERIFIER",
        ChallengeResponses=srp.answer(started["ChallengeParameters"], password, env.clock.now()),
    )


def test_srp_a_then_the_password_proof_then_the_questions():
    quiz = SrpQuiz()
    env, _, pool, app = quiz_env(quiz)
    confirmed(env, pool)
    srp = SrpClient(pool, 0xC0FFEE)
    started = srp_start(env, app, srp)
    assert started["ChallengeName"] == "PASSWORD_VERIFIER" and "SECRET_BLOCK" in started["ChallengeParameters"]
    response = prove(env, app, started, srp)
    assert response["ChallengeParameters"] == {"question": "2 + 2", "USERNAME": "alice"}
    assert quiz.rounds[:2] == [
        [{"challengeName": "SRP_A", "challengeResult": True, "challengeMetadata": None}],
        [{"challengeName": "SRP_A", "challengeResult": True, "challengeMetadata": None},
         {"challengeName": "PASSWORD_VERIFIER", "challengeResult": True, "challengeMetadata": None}],
    ]
    for _, answer in QUESTIONS:
        response = reply(env, app, response, answer)
    assert_tokens(response)
    # The block answers once.
    refused(NotAuthorizedException, "Invalid session for the user, session can only be used once.",
            prove, env, app, started, srp)


def test_a_wrong_password_in_a_custom_flow_fails_as_a_wrong_password():
    env, quiz, pool, app = quiz_env(SrpQuiz())
    confirmed(env, pool)
    srp = SrpClient(pool, 0xBEEF)
    started = srp_start(env, app, srp)
    refused(NotAuthorizedException, INCORRECT, prove, env, app, started, srp, "Wrong1!xx")
    with env.client.store.transaction() as tx:
        user = tx.get_user(pool, "alice")
        assert tx.get_failed_sign_ins(pool, user.sub).count == 1  # counted as a wrong password
    assert len(quiz.rounds) == 1  # Define is not asked again
    assert prove(env, app, started, srp)["ChallengeName"] == "CUSTOM_CHALLENGE"  # the block is still good


def test_password_verifier_only_right_after_srp_a():
    def define(event):
        event["response"]["challengeName"] = "PASSWORD_VERIFIER"
        return event

    env, _, pool, app = quiz_env(DefineAuthChallenge=define)
    confirmed(env, pool)
    refused(InvalidParameterException,
            "The challenge PASSWORD_VERIFIER in a custom authentication flow is not supported by this version "
            "of authflow yet.", start, env, app)


def test_srp_a_must_be_given_with_challenge_name():
    env, _, pool, app = quiz_env(SrpQuiz())
    confirmed(env, pool)
    refused(InvalidParameterException, "Missing required parameter SRP_A", start, env, app, CHALLENGE_NAME="SRP_A")
