#!/usr/bin/env node
// CUSTOM_AUTH as amazon-cognito-identity-js does it, against `authflow serve` (driven by
// tests/integration/test_js_custom_auth.py): the pool's DefineAuthChallenge /
// CreateAuthChallenge / VerifyAuthChallengeResponse functions ask questions.
//
// Input: one JSON object, as the first argument or in the env variable AUTHFLOW_JS_INPUT:
//   endpoint, userPoolId, clientId, username, password, answers (the right answers, in order),
//   wrongAnswer
//
// Steps: (1) setAuthenticationFlowType('CUSTOM_AUTH') + authenticateUser with the password: the
// library starts with CHALLENGE_NAME=SRP_A, answers PASSWORD_VERIFIER itself, then customChallenge
// for every question (sendCustomChallengeAnswer) until onSuccess; (2) initiateAuth (no password):
// customChallenge for every question until onSuccess; (3) initiateAuth, then a wrong answer ->
// onFailure. Output: one JSON object on stdout; exit 0 when every step ended as it should.

"use strict";

const { AuthenticationDetails, CognitoUser, CognitoUserPool } = require("amazon-cognito-identity-js");

const report = { ok: false, steps: {} };

function finish(code) {
  process.stdout.write(JSON.stringify(report) + "\n");
  process.exitCode = code;
}

function newUser(input) {
  const pool = new CognitoUserPool({ UserPoolId: input.userPoolId, ClientId: input.clientId,
    endpoint: input.endpoint });
  const user = new CognitoUser({ Username: input.username, Pool: pool });
  user.setAuthenticationFlowType("CUSTOM_AUTH");
  return user;
}

// Answers each customChallenge with the next of `answers`; resolves with what the flow ended in.
function conversation(user, answers, start) {
  return new Promise((resolve) => {
    const questions = [];
    const handlers = {
      onSuccess: (session) => resolve({ outcome: "onSuccess", questions,
        idToken: session.getIdToken().getJwtToken() }),
      onFailure: (err) => resolve({ outcome: "onFailure", questions, code: err.code, message: err.message }),
      customChallenge: (parameters) => {
        questions.push(parameters);
        const answer = answers[questions.length - 1];
        if (answer === undefined) {
          resolve({ outcome: "unexpected customChallenge", questions });
          return;
        }
        user.sendCustomChallengeAnswer(answer, handlers);
      },
    };
    for (const name of ["newPasswordRequired", "mfaRequired", "totpRequired", "mfaSetup", "selectMFAType"]) {
      handlers[name] = () => resolve({ outcome: name, questions });
    }
    start(handlers);
  });
}

async function run(input) {
  const withPassword = newUser(input);
  report.steps.withPassword = await conversation(withPassword, input.answers, (handlers) =>
    withPassword.authenticateUser(
      new AuthenticationDetails({ Username: input.username, Password: input.password }), handlers));

  const withoutPassword = newUser(input);
  report.steps.withoutPassword = await conversation(withoutPassword, input.answers, (handlers) =>
    withoutPassword.initiateAuth(new AuthenticationDetails({ Username: input.username }), handlers));

  const wrong = newUser(input);
  report.steps.wrongAnswer = await conversation(wrong, [input.wrongAnswer], (handlers) =>
    wrong.initiateAuth(new AuthenticationDetails({ Username: input.username }), handlers));
}

let input;
try {
  input = JSON.parse(process.argv[2] || process.env.AUTHFLOW_JS_INPUT);
} catch (err) {
  report.error = { message: `bad input: ${err.message}` };
  finish(1);
}
if (input) {
  const timer = setTimeout(() => {
    report.error = { message: "timed out waiting for a callback" };
    finish(1);
    process.exit(1);
  }, 45000);
  run(input)
    .then(() => {
      clearTimeout(timer);
      report.ok = true;
      finish(0);
    })
    .catch((err) => {
      clearTimeout(timer);
      report.error = { name: err.name, message: err.message, stack: err.stack };
      finish(1);
    });
}
