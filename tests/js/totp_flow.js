#!/usr/bin/env node
// An authenticator app (TOTP) as a browser app sets it up and signs in with it, against
// `authflow serve`, with the real amazon-cognito-identity-js and aws-jwt-verify (driven by
// tests/integration/test_js_totp.py).
//
// Input: one JSON object, as the first argument or in the env variable AUTHFLOW_JS_INPUT:
//   mode ("enrol" or "setup"), endpoint, region, userPoolId, clientId (an app client without a
//   secret), username (what the user types), password (the user's permanent password),
//   jwks (the pool's JWKS as served at <endpoint>/<poolId>/.well-known/jwks.json)
//
// The codes: the user reads them off an authenticator app, which is the driving test (pyotp on
// the server's clock). Whenever a step needs a code, the script writes one line
//   {"ask": {"for": "<what>", "secret": "<the SecretCode the library was given>"}}
// on stdout and reads one line {"code": "<six digits>"} from stdin. `for` is one of
//   verify  - the code to verify the new authenticator with;
//   wrong   - a code the authenticator does not show (a typo);
//   replay  - the code used to verify, typed again within its 30 seconds;
//   signIn  - the code the authenticator shows for the sign-in (a later 30-second step).
//
// mode "enrol" (a pool with MFA OPTIONAL and TOTP):
//   (1) signIn: authenticateUser (USER_SRP_AUTH) -> onSuccess (no factor yet);
//   (2) associate: associateSoftwareToken (by access token) -> associateSecretCode;
//   (3) verify: verifySoftwareToken(code, "phone") -> onSuccess ({Status: "SUCCESS"});
//   (4) prefer: setUserMfaPreference(null, {PreferredMfa: true, Enabled: true}) -> "SUCCESS";
//   (5) userData: getUserData (bypassCache) -> UserMFASettingList, PreferredMfaSetting;
//   (6) totpSignIn: a new CognitoUser; authenticateUser -> totpRequired; sendMFACode with a wrong
//       code and with the replayed verify code -> onFailure each; then with the sign-in code ->
//       onSuccess (the library keeps its Session across the failures, as the server does).
// mode "setup" (a pool with MFA ON and TOTP only; the user has no factor):
//   (1) setupSignIn: authenticateUser -> mfaSetup;
//   (2) associate: associateSoftwareToken (by Session) -> associateSecretCode;
//   (3) verify: verifySoftwareToken(code, "phone") -> the library answers MFA_SETUP itself -> onSuccess;
//   (4) totpSignIn: a new CognitoUser; authenticateUser -> totpRequired; sendMFACode -> onSuccess.
// Then CognitoJwtVerifier checks the ID and access tokens of every onSuccess offline (JWKS given
// with cacheJwks; any download is refused and recorded).
//
// Output: the asks, then one JSON report line on stdout; exit 0 when every step ended in the
// callback it should.

"use strict";

const readline = require("readline");
const { AuthenticationDetails, CognitoUser, CognitoUserPool } = require("amazon-cognito-identity-js");
const { CognitoJwtVerifier } = require("aws-jwt-verify");
const { SimpleJwksCache } = require("aws-jwt-verify/jwk");

const report = { ok: false, mode: null, steps: {}, verified: {}, jwksFetches: [] };

class StepError extends Error {
  constructor(step, detail) {
    super(`${step}: ${detail.callback ? `unexpected callback ${detail.callback}` : "failed"}`);
    this.step = step;
    this.detail = detail;
  }
}

// -- the authenticator app, across stdin/stdout ------------------------------------------------

const lines = readline.createInterface({ input: process.stdin });
const waiting = [];
lines.on("line", (line) => {
  const next = waiting.shift();
  if (next) next(JSON.parse(line));
});

function ask(what, secret) {
  return new Promise((resolve) => {
    waiting.push((answer) => resolve(answer.code));
    process.stdout.write(JSON.stringify({ ask: { for: what, secret } }) + "\n");
  });
}

// -- reporting ---------------------------------------------------------------------------------

function finish(code) {
  lines.close();
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
  for (const key of ["mode", "endpoint", "region", "userPoolId", "clientId", "username", "password", "jwks"]) {
    if (input[key] === undefined) throw new Error(`input lacks ${key}`);
  }
  if (!["enrol", "setup"].includes(input.mode)) throw new Error(`unknown mode ${input.mode}`);
  return input;
}

// -- the library, as promises --------------------------------------------------------------------

// The callbacks authenticateUser and sendMFACode may call; `expected` is the one this step must end in.
function callbacks(step, expected, resolve, reject) {
  const names = ["onSuccess", "onFailure", "newPasswordRequired", "mfaRequired", "totpRequired",
    "customChallenge", "mfaSetup", "selectMFAType", "associateSecretCode"];
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

function expect(step, expected, start) {
  return new Promise((resolve, reject) => start(callbacks(step, expected, resolve, reject)));
}

function nodeStyle(step, start) {
  return new Promise((resolve, reject) => {
    start((err, result) => {
      if (err) reject(new StepError(step, { callback: "error", ...errorInfo(err) }));
      else resolve(result);
    });
  });
}

function tokens(session) {
  return { idToken: session.getIdToken().getJwtToken(), accessToken: session.getAccessToken().getJwtToken(),
    refreshToken: session.getRefreshToken().getToken() };
}

function setUp(input) {
  const pool = new CognitoUserPool({ UserPoolId: input.userPoolId, ClientId: input.clientId,
    endpoint: input.endpoint });
  const newUser = () => new CognitoUser({ Username: input.username, Pool: pool }); // USER_SRP_AUTH
  const signIn = (step, user, expected) => expect(step, expected, (cb) => user.authenticateUser(
    new AuthenticationDetails({ Username: input.username, Password: input.password }), cb));
  const sendCode = (step, user, code, expected) => expect(step, expected,
    (cb) => user.sendMFACode(code, cb, "SOFTWARE_TOKEN_MFA"));
  return { newUser, signIn, sendCode };
}

// -- the two flows -------------------------------------------------------------------------------

async function enrol(input) {
  const { newUser, signIn, sendCode } = setUp(input);
  const user = newUser();
  report.steps.flow = user.getAuthenticationFlowType();
  const first = await signIn("signIn", user, "onSuccess");
  report.steps.signIn = { outcome: first.callback, username: user.getUsername(), ...tokens(first.args[0]) };

  const associated = await expect("associate", "associateSecretCode", (cb) => user.associateSoftwareToken(cb));
  const secret = associated.args[0];
  report.steps.associate = { outcome: associated.callback, secretCode: secret };

  const code = await ask("verify", secret);
  const verified = await expect("verify", "onSuccess", (cb) => user.verifySoftwareToken(code, "phone", cb));
  report.steps.verify = { outcome: verified.callback, result: verified.args[0] };

  const preferred = await nodeStyle("prefer",
    (cb) => user.setUserMfaPreference(null, { PreferredMfa: true, Enabled: true }, cb));
  report.steps.prefer = { outcome: preferred };

  const data = await nodeStyle("userData", (cb) => user.getUserData(cb, { bypassCache: true }));
  report.steps.userData = { UserMFASettingList: data.UserMFASettingList || null,
    PreferredMfaSetting: data.PreferredMfaSetting || null };

  const again = newUser();
  const challenge = await signIn("totpSignIn", again, "totpRequired");
  const [challengeName, challengeParameters] = challenge.args;
  const wrong = await sendCode("wrongCode", again, await ask("wrong", secret), "onFailure");
  const replayed = await sendCode("replayedCode", again, await ask("replay", secret), "onFailure");
  const done = await sendCode("totpSignIn", again, await ask("signIn", secret), "onSuccess");
  report.steps.totpSignIn = { outcome: done.callback, challenge: { callback: challenge.callback, challengeName,
    challengeParameters }, wrongCode: errorInfo(wrong.args[0]), replayedCode: errorInfo(replayed.args[0]),
  ...tokens(done.args[0]) };
  return ["signIn", "totpSignIn"];
}

async function setup(input) {
  const { newUser, signIn, sendCode } = setUp(input);
  const user = newUser();
  report.steps.flow = user.getAuthenticationFlowType();
  const started = await signIn("setupSignIn", user, "mfaSetup");
  const [challengeName, challengeParameters] = started.args;
  report.steps.setupSignIn = { outcome: started.callback, challengeName, challengeParameters };

  const associated = await expect("associate", "associateSecretCode", (cb) => user.associateSoftwareToken(cb));
  const secret = associated.args[0];
  report.steps.associate = { outcome: associated.callback, secretCode: secret };

  const code = await ask("verify", secret);
  const verified = await expect("verify", "onSuccess", (cb) => user.verifySoftwareToken(code, "phone", cb));
  report.steps.verify = { outcome: verified.callback, ...tokens(verified.args[0]) };

  const again = newUser();
  const challenge = await signIn("totpSignIn", again, "totpRequired");
  const done = await sendCode("totpSignIn", again, await ask("signIn", secret), "onSuccess");
  report.steps.totpSignIn = { outcome: done.callback, challenge: { callback: challenge.callback,
    challengeName: challenge.args[0], challengeParameters: challenge.args[1] }, ...tokens(done.args[0]) };
  return ["verify", "totpSignIn"];
}

async function run(input) {
  report.mode = input.mode;
  const signedIn = input.mode === "enrol" ? await enrol(input) : await setup(input);

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
  for (const name of signedIn) {
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
  }, 60000);
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
