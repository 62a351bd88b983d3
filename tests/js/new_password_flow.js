#!/usr/bin/env node
// A first sign-in as a browser app does it, against `authflow serve`, with the real
// amazon-cognito-identity-js and aws-jwt-verify (driven by tests/integration/test_js_clients.py).
//
// Input: one JSON object, as the first argument or in the env variable AUTHFLOW_JS_INPUT:
//   endpoint           the server's URL (every API call is POSTed there)
//   region             e.g. "us-east-1"
//   userPoolId         "<region>_<id>"
//   clientId           an app client without a secret (USER_PASSWORD_AUTH, REFRESH_TOKEN_AUTH)
//   username           the name the user types (a username or an alias such as the email)
//   temporaryPassword  the password AdminCreateUser set
//   newPassword        the password the user chooses
//   attributes         {name: value} sent with the new password (every required one must be there)
//   jwks               the pool's JWKS (as served at <endpoint>/<poolId>/.well-known/jwks.json)
//   otherPoolIdToken   optional: an ID token issued by another pool of the same server
//
// Steps: (1) sign in with the temporary password -> newPasswordRequired; (2) completeNewPasswordChallenge
// -> onSuccess; (3) sign in with the new password -> onSuccess; (4) a wrong password -> onFailure;
// (5) refreshSession -> a new session; (6) getUserAttributes (GetUser); then CognitoJwtVerifier checks
// the tokens (JWKS given with cacheJwks; any JWKS download is refused and recorded) and rejects
// tampered, forged and foreign tokens.
//
// Output: one JSON object on stdout. Exit 0 when every step went as expected (the caller asserts
// the details); otherwise {"ok": false, "error": {...}, ...} and exit 1.

"use strict";

const crypto = require("crypto");
const {
  AuthenticationDetails,
  CognitoUser,
  CognitoUserPool,
  CognitoRefreshToken,
} = require("amazon-cognito-identity-js");
const { CognitoJwtVerifier } = require("aws-jwt-verify");
const { SimpleJwksCache } = require("aws-jwt-verify/jwk");

const report = { ok: false, steps: {}, verified: {}, rejected: {}, jwksFetches: [] };

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
  report.error = {
    step: err.step || null,
    name: err.name,
    code: err.code || (err.detail && err.detail.code) || null,
    message: err.message,
    detail: err.detail || null,
    stack: err.stack,
  };
  finish(1);
}

function readInput() {
  const raw = process.argv[2] || process.env.AUTHFLOW_JS_INPUT;
  if (!raw) throw new Error("no input: pass a JSON object as the first argument or in AUTHFLOW_JS_INPUT");
  const input = JSON.parse(raw);
  for (const key of ["endpoint", "region", "userPoolId", "clientId", "username",
    "temporaryPassword", "newPassword", "jwks"]) {
    if (input[key] === undefined) throw new Error(`input lacks ${key}`);
  }
  input.attributes = input.attributes || {};
  return input;
}

function errorInfo(err) {
  return { code: err && err.code, name: err && err.name, message: err && err.message };
}

function sessionInfo(session) {
  const id = session.getIdToken();
  const access = session.getAccessToken();
  return {
    valid: session.isValid(),
    idToken: id.getJwtToken(),
    accessToken: access.getJwtToken(),
    refreshToken: session.getRefreshToken().getToken(),
    idPayload: id.decodePayload(),
    accessPayload: access.decodePayload(),
  };
}

// The callbacks authenticateUser and completeNewPasswordChallenge may call. `expected` names the
// one this step must end in; any other one rejects the promise with what it was given.
function callbacks(step, expected, resolve, reject) {
  const names = ["onSuccess", "onFailure", "newPasswordRequired", "mfaRequired", "totpRequired",
    "customChallenge", "mfaSetup", "selectMFAType", "associateSecretCode"];
  const handlers = {};
  let called = false;
  for (const name of names) {
    handlers[name] = (...args) => {
      if (called) {
        reject(new StepError(step, { callback: name, note: "a second callback" }));
        return;
      }
      called = true;
      if (name === expected) {
        resolve({ callback: name, args });
        return;
      }
      const detail = { callback: name };
      if (name === "onFailure") Object.assign(detail, errorInfo(args[0]));
      else detail.args = args.map((a) => (a instanceof Error ? errorInfo(a) : a));
      reject(new StepError(step, detail));
    };
  }
  return handlers;
}

function newUser(input) {
  const pool = new CognitoUserPool({
    UserPoolId: input.userPoolId,
    ClientId: input.clientId,
    endpoint: input.endpoint,
  });
  const user = new CognitoUser({ Username: input.username, Pool: pool });
  user.setAuthenticationFlowType("USER_PASSWORD_AUTH");
  return user;
}

function signIn(step, user, username, password, expected) {
  return new Promise((resolve, reject) => {
    const details = new AuthenticationDetails({ Username: username, Password: password });
    user.authenticateUser(details, callbacks(step, expected, resolve, reject));
  });
}

async function run(input) {
  // (1) the temporary password -> NEW_PASSWORD_REQUIRED
  const user = newUser(input);
  const first = await signIn("firstSignIn", user, input.username, input.temporaryPassword,
    "newPasswordRequired");
  const [userAttributes, requiredAttributes] = first.args;
  report.steps.firstSignIn = { outcome: first.callback, userAttributes, requiredAttributes };
  const missing = requiredAttributes.filter((name) => !(name in input.attributes));
  if (missing.length) {
    throw new StepError("firstSignIn", { note: `no value given for required ${missing.join(", ")}`,
      requiredAttributes });
  }

  // (2) the new password and the attribute values -> tokens
  const completed = await new Promise((resolve, reject) => {
    user.completeNewPasswordChallenge(input.newPassword, input.attributes,
      callbacks("completeNewPassword", "onSuccess", resolve, reject));
  });
  const completedSession = sessionInfo(completed.args[0]);
  report.steps.completeNewPassword = { outcome: completed.callback, ...completedSession };

  // (3) the new password, in a fresh CognitoUser -> tokens
  const again = newUser(input);
  const second = await signIn("secondSignIn", again, input.username, input.newPassword, "onSuccess");
  const session = sessionInfo(second.args[0]);
  report.steps.secondSignIn = { outcome: second.callback, ...session };

  // (4) a wrong password -> onFailure
  const wrongPassword = input.wrongPassword || `${input.newPassword}-wrong`;
  const wrong = await signIn("wrongPassword", newUser(input), input.username, wrongPassword, "onFailure");
  report.steps.wrongPassword = { outcome: wrong.callback, ...errorInfo(wrong.args[0]) };

  // (5) the refresh token -> a new session (InitiateAuth REFRESH_TOKEN_AUTH)
  const refreshed = await new Promise((resolve, reject) => {
    again.refreshSession(new CognitoRefreshToken({ RefreshToken: session.refreshToken }), (err, s) => {
      if (err) reject(new StepError("refresh", { callback: "error", ...errorInfo(err) }));
      else resolve(s);
    });
  });
  report.steps.refresh = { outcome: "onSuccess", ...sessionInfo(refreshed) };

  // (6) GetUser with the access token
  const attributes = await new Promise((resolve, reject) => {
    again.getUserAttributes((err, list) => {
      if (err) reject(new StepError("getUserAttributes", { callback: "error", ...errorInfo(err) }));
      else resolve(list);
    });
  });
  report.steps.getUserAttributes = {
    outcome: "onSuccess",
    attributes: Object.fromEntries(attributes.map((a) => [a.getName(), a.getValue()])),
  };

  // Tokens, as a backend checks them.
  await verifyTokens(input, { completion: completedSession, signIn: session,
    refresh: report.steps.refresh });
}

function verifiers(input) {
  // Any JWKS download would go to https://cognito-idp.<region>.amazonaws.com: refuse and record it,
  // so the check stays offline and a kid the cached JWKS lacks shows up in the report.
  const fetcher = {
    fetch: async (uri) => {
      report.jwksFetches.push(uri);
      throw new Error(`JWKS download refused in this test: ${uri}`);
    },
  };
  const make = (tokenUse, clientId = input.clientId) => {
    const verifier = CognitoJwtVerifier.create(
      { userPoolId: input.userPoolId, tokenUse, clientId },
      { jwksCache: new SimpleJwksCache({ fetcher }) },
    );
    verifier.cacheJwks(input.jwks);
    return verifier;
  };
  return { id: make("id"), access: make("access"), otherClient: make("id", "someotherclientid") };
}

async function verifyTokens(input, sessions) {
  const v = verifiers(input);
  for (const [name, s] of Object.entries(sessions)) {
    const id = await v.id.verify(s.idToken);
    const access = await v.access.verify(s.accessToken);
    report.verified[name] = { id, access };
  }

  // Refusals: each must throw; the report keeps the error's class and message.
  const token = sessions.signIn.idToken;
  const [header, payload, signature] = token.split(".");
  const flipped = signature.slice(0, 10) + (signature[10] === "A" ? "B" : "A") + signature.slice(11);
  const claims = JSON.parse(Buffer.from(payload, "base64url").toString());
  const otherClaims = Buffer.from(JSON.stringify({ ...claims, "cognito:username": "mallory" }))
    .toString("base64url");
  const { privateKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
  const forgedBody = `${header}.${payload}`;
  const forged = `${forgedBody}.${crypto.sign("sha256", Buffer.from(forgedBody), privateKey)
    .toString("base64url")}`;
  const cases = {
    tamperedSignature: () => v.id.verify(`${header}.${payload}.${flipped}`),
    tamperedPayload: () => v.id.verify(`${header}.${otherClaims}.${signature}`),
    forgedWithOtherKey: () => v.id.verify(forged),
    accessTokenAsId: () => v.id.verify(sessions.signIn.accessToken),
    idTokenAsAccess: () => v.access.verify(token),
    otherClientId: () => v.otherClient.verify(token),
  };
  if (input.otherPoolIdToken) cases.otherPool = () => v.id.verify(input.otherPoolIdToken);
  for (const [name, attempt] of Object.entries(cases)) {
    try {
      const accepted = await attempt();
      report.rejected[name] = { rejected: false, payload: accepted };
    } catch (err) {
      report.rejected[name] = { rejected: true, name: err.constructor.name, message: err.message };
    }
  }
  const accepted = Object.keys(report.rejected).filter((k) => !report.rejected[k].rejected);
  if (accepted.length) {
    throw new StepError("rejections", { note: `aws-jwt-verify accepted: ${accepted.join(", ")}` });
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
