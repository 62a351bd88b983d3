#!/usr/bin/env node
// Device tracking as a browser app does it, against `authflow serve`, with the real
// amazon-cognito-identity-js and aws-jwt-verify (driven by tests/integration/test_js_devices.py).
//
// Input: one JSON object, as the first argument or in the env variable AUTHFLOW_JS_INPUT:
//   endpoint, region, userPoolId, clientId (an app client without a secret: USER_SRP_AUTH,
//   REFRESH_TOKEN_AUTH), username (what the user types), password (the user's permanent password),
//   jwks (the pool's JWKS as served at <endpoint>/<poolId>/.well-known/jwks.json)
//
// Every CognitoUser here shares one memory Storage (passed as `Storage`), as the tabs of one browser
// share localStorage: the library keeps the device key, group key and device password there.
//
// Steps:
//   (1) firstSignIn: authenticateUser (USER_SRP_AUTH) -> the server returns NewDeviceMetadata; the
//       library itself makes the device verifier and calls ConfirmDevice, then onSuccess (with
//       userConfirmationNecessary when the pool remembers only on the user's prompt);
//   (2) remember: setDeviceStatusRemembered;
//   (3) deviceSignIn: a new CognitoUser; authenticateUser answers PASSWORD_VERIFIER with the stored
//       DEVICE_KEY, then DEVICE_SRP_AUTH and DEVICE_PASSWORD_VERIFIER from the stored device password;
//   (4) getDevice, listDevices(60);
//   (5) refresh: refreshSession (the library adds DEVICE_KEY from storage);
//   (6) wrongDevicePassword: the stored device password changed -> onFailure; then restored;
//   (7) forgetDevice (the library also clears its stored device); refreshing the tokens of (3) fails;
//   (8) afterForget: authenticateUser signs in as a new device (a new key, confirmed by the library);
//   (9) staleKey: that device forgotten with forgetSpecificDevice (storage keeps the key), then
//       authenticateUser: the server answers "Device does not exist.", the library retries the
//       PASSWORD_VERIFIER step with DEVICE_KEY null, and signs in as a new device again.
// Then CognitoJwtVerifier checks the ID and access tokens of (1), (3), (5), (8), (9) offline (JWKS
// given with cacheJwks; any download is refused and recorded).
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
  for (const key of ["endpoint", "region", "userPoolId", "clientId", "username", "password", "jwks"]) {
    if (input[key] === undefined) throw new Error(`input lacks ${key}`);
  }
  return input;
}

// A Storage as the library expects one (the shape of window.localStorage), kept in memory.
class MemoryStorage {
  constructor() {
    this.items = new Map();
  }
  setItem(key, value) {
    this.items.set(key, String(value));
    return this.items.get(key);
  }
  getItem(key) {
    return this.items.has(key) ? this.items.get(key) : null;
  }
  removeItem(key) {
    return this.items.delete(key);
  }
  clear() {
    this.items.clear();
  }
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

// onSuccess / onFailure callbacks of the device operations, as a promise.
function call(step, method) {
  return new Promise((resolve, reject) => {
    method({
      onSuccess: (result) => resolve(result),
      onFailure: (err) => reject(new StepError(step, { callback: "onFailure", ...errorInfo(err) })),
    });
  });
}

function main(input) {
  const storage = new MemoryStorage();
  const pool = new CognitoUserPool({ UserPoolId: input.userPoolId, ClientId: input.clientId,
    endpoint: input.endpoint, Storage: storage });

  const newUser = () => new CognitoUser({ Username: input.username, Pool: pool, Storage: storage });

  // What the library keeps of its device, read from the shared storage.
  const stored = (username) => {
    const prefix = `CognitoIdentityServiceProvider.${input.clientId}.${username}`;
    return {
      deviceKey: storage.getItem(`${prefix}.deviceKey`),
      deviceGroupKey: storage.getItem(`${prefix}.deviceGroupKey`),
      hasDevicePassword: Boolean(storage.getItem(`${prefix}.randomPasswordKey`)),
    };
  };
  const passwordKey = (username) => `CognitoIdentityServiceProvider.${input.clientId}.${username}.randomPasswordKey`;

  const signIn = (step, user, expected) => new Promise((resolve, reject) => {
    const details = new AuthenticationDetails({ Username: input.username, Password: input.password });
    user.authenticateUser(details, callbacks(step, expected, resolve, reject));
  });

  const tokens = (session) => ({ idToken: session.getIdToken().getJwtToken(),
    accessToken: session.getAccessToken().getJwtToken(), refreshToken: session.getRefreshToken().getToken() });

  return { storage, newUser, stored, passwordKey, signIn, tokens };
}

async function run(input) {
  const { storage, newUser, stored, passwordKey, signIn, tokens } = main(input);

  const first = newUser();
  report.steps.flow = first.getAuthenticationFlowType();
  const one = await signIn("firstSignIn", first, "onSuccess");
  const username = first.getUsername(); // USER_ID_FOR_SRP: the library keys its storage with it
  report.steps.firstSignIn = { outcome: one.callback, userConfirmationNecessary: one.args[1] === true,
    username, ...tokens(one.args[0]), stored: stored(username) };

  await call("remember", (cb) => first.setDeviceStatusRemembered(cb));
  report.steps.remember = { outcome: "onSuccess" };

  const second = newUser();
  const two = await signIn("deviceSignIn", second, "onSuccess");
  report.steps.deviceSignIn = { outcome: two.callback, ...tokens(two.args[0]), stored: stored(username) };

  const device = await call("getDevice", (cb) => second.getDevice(cb));
  const listed = await call("listDevices", (cb) => second.listDevices(60, null, cb));
  report.steps.getDevice = device;
  report.steps.listDevices = listed;

  const refreshed = await new Promise((resolve, reject) => {
    second.refreshSession(two.args[0].getRefreshToken(), (err, session) => {
      if (err) reject(new StepError("refresh", { callback: "error", ...errorInfo(err) }));
      else resolve(session);
    });
  });
  report.steps.refresh = { outcome: "session", ...tokens(refreshed) };

  const devicePassword = storage.getItem(passwordKey(username));
  storage.setItem(passwordKey(username), `${devicePassword.startsWith("x") ? "y" : "x"}${devicePassword.slice(1)}`);
  const wrong = await signIn("wrongDevicePassword", newUser(), "onFailure");
  report.steps.wrongDevicePassword = { outcome: wrong.callback, ...errorInfo(wrong.args[0]) };
  storage.setItem(passwordKey(username), devicePassword);

  await call("forgetDevice", (cb) => second.forgetDevice(cb));
  report.steps.forgetDevice = { outcome: "onSuccess", stored: stored(username) };

  const stopped = await new Promise((resolve) => {
    newUser().refreshSession(two.args[0].getRefreshToken(), (err, session) => resolve({ err, session }));
  });
  report.steps.refreshAfterForget = stopped.err ? { outcome: "error", ...errorInfo(stopped.err) }
    : { outcome: "session" };

  const third = newUser();
  const three = await signIn("afterForget", third, "onSuccess");
  report.steps.afterForget = { outcome: three.callback, userConfirmationNecessary: three.args[1] === true,
    ...tokens(three.args[0]), stored: stored(username) };

  const staleKey = stored(username).deviceKey;
  await call("forgetSpecificDevice", (cb) => third.forgetSpecificDevice(staleKey, cb));
  const four = await signIn("staleKey", newUser(), "onSuccess");
  report.steps.staleKey = { outcome: four.callback, forgotten: staleKey, ...tokens(four.args[0]),
    stored: stored(username) };

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
  for (const name of ["firstSignIn", "deviceSignIn", "refresh", "afterForget", "staleKey"]) {
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
