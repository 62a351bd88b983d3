#!/usr/bin/env node
// SRP sign-in as a browser app does it by default (USER_SRP_AUTH), against `authflow serve`, with
// the real amazon-cognito-identity-js and aws-jwt-verify (driven by tests/integration/test_js_srp.py).
//
// Input: one JSON object, as the first argument or in the env variable AUTHFLOW_JS_INPUT:
//   endpoint, region, userPoolId, clientId (an app client without a secret: the JS client cannot
//   send SECRET_HASH), username, temporaryPassword, newPassword, wrongPassword,
//   jwks (the pool's JWKS as served at <endpoint>/<poolId>/.well-known/jwks.json)
//
// Steps: (1) SRP with the temporary password -> newPasswordRequired; (2) completeNewPasswordChallenge
// -> onSuccess; (3) SRP with the new password in a fresh CognitoUser -> onSuccess; (4) SRP with a
// wrong password -> onFailure. Then CognitoJwtVerifier checks the ID and access tokens of (2) and (3)
// offline (JWKS given with cacheJwks; any download is refused and recorded).
//
// Output: one JSON object on stdout; exit 0 when every step ended in the callback it should.

"use strict";

const { AuthenticationDetails, CognitoUser, CognitoUserPool } = require("amazon-cognito-identity-js");
const { CognitoJwtVerifier } = require("aws-jwt-verify");
const { SimpleJwksCache } = require("aws-jwt-verify/jwk");

const report = { ok: false, steps: {}, verified: {}, jwksFetches: [] };

class StepError extends Error {
  constructor(step, detail) {
    super(`${step}: ${detail.callback ? `unexpected callback ${detail.callback}` : "failed"}`);
    this.step = step;
    this.detail = detail;
  }
}

function finish(code) {
  process.stdout.write(JSON.stringify(report) + "\n");
  process.exitCode = code;
}

function fail(err) {
  report.ok = false;
  report.error = { step: err.step || null, name: err.name, message: err.message, detail: err.detail || null,
    stack: err.stack };
  finish(1);
}

function errorInfo(err) {
  return { code: err && err.code, name: err && err.name, message: err && err.message };
}

function readInput() {
  const raw = process.argv[2] || process.env.AUTHFLOW_JS_INPUT;
  if (!raw) throw new Error("no input: pass a JSON object as the first argument or in AUTHFLOW_JS_INPUT");
  const input = JSON.parse(raw);
  for (const key of ["endpoint", "region", "userPoolId", "clientId", "username", "temporaryPassword",
    "newPassword", "wrongPassword", "jwks"]) {
    if (input[key] === undefined) throw new Error(`input lacks ${key}`);
  }
  return input;
}

// The callbacks authenticateUser may call; `expected` is the one this step must end in.
function callbacks(step, expected, resolve, reject) {
  const names = ["onSuccess", "onFailure", "newPasswordRequired", "mfaRequired", "totpRequired",
    "customChallenge", "mfaSetup", "selectMFAType"];
  const handlers = {};
  for (const name of names) {
    handlers[name] = (...args) => {
      if (name === expected) {
        resolve({ callback: name, args });
        return;
      }
      const detail = { callback: name };
      if (name === "onFailure") Object.assign(detail, errorInfo(args[0]));
      reject(new StepError(step, detail));
    };
  }
  return handlers;
}

function newUser(input) {
  const pool = new CognitoUserPool({ UserPoolId: input.userPoolId, ClientId: input.clientId,
    endpoint: input.endpoint });
  return new CognitoUser({ Username: input.username, Pool: pool }); // default flow: USER_SRP_AUTH
}

function signIn(step, user, input, password, expected) {
  return new Promise((resolve, reject) => {
    const details = new AuthenticationDetails({ Username: input.username, Password: password });
    user.authenticateUser(details, callbacks(step, expected, resolve, reject));
  });
}

function tokens(session) {
  return { idToken: session.getIdToken().getJwtToken(), accessToken: session.getAccessToken().getJwtToken(),
    refreshToken: session.getRefreshToken().getToken(), flow: null };
}

async function run(input) {
  const user = newUser(input);
  report.steps.flow = user.getAuthenticationFlowType();
  const first = await signIn("firstSignIn", user, input, input.temporaryPassword, "newPasswordRequired");
  const [userAttributes, requiredAttributes] = first.args;
  report.steps.firstSignIn = { outcome: first.callback, userAttributes, requiredAttributes };

  const completed = await new Promise((resolve, reject) => {
    user.completeNewPasswordChallenge(input.newPassword, {},
      callbacks("completeNewPassword", "onSuccess", resolve, reject));
  });
  report.steps.completeNewPassword = { outcome: completed.callback, ...tokens(completed.args[0]) };

  const second = await signIn("secondSignIn", newUser(input), input, input.newPassword, "onSuccess");
  report.steps.secondSignIn = { outcome: second.callback, ...tokens(second.args[0]) };

  const wrong = await signIn("wrongPassword", newUser(input), input, input.wrongPassword, "onFailure");
  report.steps.wrongPassword = { outcome: wrong.callback, ...errorInfo(wrong.args[0]) };

  const fetcher = {
    fetch: async (uri) => {
      report.jwksFetches.push(uri);
      throw new Error(`JWKS download refused in this test: ${uri}`);
    },
  };
  const make = (tokenUse) => {
    const verifier = CognitoJwtVerifier.create({ userPoolId: input.userPoolId, tokenUse, clientId: input.clientId },
      { jwksCache: new SimpleJwksCache({ fetcher }) });
    verifier.cacheJwks(input.jwks);
    return verifier;
  };
  const id = make("id");
  const access = make("access");
  for (const name of ["completeNewPassword", "secondSignIn"]) {
    report.verified[name] = {
      id: await id.verify(report.steps[name].idToken),
      access: await access.verify(report.steps[name].accessToken),
    };
  }
}

let input;
try {
  input = readInput();
} catch (err) {
  fail(err);
}
if (input) {
  const timer = setTimeout(() => {
    fail(new Error("timed out waiting for a callback"));
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
      fail(err);
    });
}
