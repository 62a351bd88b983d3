"""Variables and computed values in scenario requests.

- `"${name}"` (the whole string) is the variable's value, of any type; `"a-${name}"`
  interpolates it as text. `${name.Member.0}` reaches into a captured structure.
- A mapping key `$merge: "${var}"` merges the variable's mapping over the mapping it
  sits in (a `null` value there deletes the key): how fixtures take optional settings.
- `{$secret_hash: [USERNAME, CLIENT_ID, CLIENT_SECRET]}` is the SECRET_HASH a client
  with a secret sends (base64 HMAC-SHA256 of username + client id, keyed by the secret).
- `{$srp_a: NAME}` starts an SRP sign-in: a fresh random secret `a`, kept under NAME, and
  the SRP_A to send. `{$srp_answer: {with: NAME, pool: POOL_ID, password: P, challenge:
  CHALLENGE_PARAMETERS}}` is the ChallengeResponses of PASSWORD_VERIFIER, computed as
  amazon-cognito-identity-js computes them (`authflow.conformance.srp_client`), dated by
  the target's clock as far as the run has moved it (the runner keeps it in `$now`);
  `username:` overrides the USERNAME sent.
- Device SRP (`authflow.conformance.srp_client` again): `{$device_registration: {name: D,
  group_key: GK, device_key: DK}}` is the DeviceSecretVerifierConfig of ConfirmDevice,
  made from a fresh random device password and salt that are kept under D;
  `{$device_srp_a: D}` is the SRP_A of a DEVICE_SRP_AUTH answer (a fresh `a` for D);
  `{$device_answer: {with: D, challenge: CHALLENGE_PARAMETERS}}` is the ChallengeResponses
  of DEVICE_PASSWORD_VERIFIER (USERNAME from the challenge unless `username:` is given;
  `password:` signs with another device password, to send a wrong proof), dated as
  `$srp_answer` is.
- `{$totp: {secret: S, step_offset: N, as: NAME}}` is the code an authenticator app shows
  for the SecretCode S (a variable's name, or the code itself): RFC 6238 (HMAC-SHA1, 6
  digits, 30-second steps from the Unix epoch), computed here from the RFC (standard
  library only, nothing of authflow's own TOTP), dated by the target's clock as
  `$srp_answer` is; `step_offset` takes the code of N steps later (or earlier: -1), and
  `as` also keeps the code in the variable NAME, so a later step can send the very same
  code again (`"${NAME}"`) whatever time it has become.
- `{$pkce: NAME}` starts a PKCE sign-in (RFC 7636): a fresh code verifier (43 characters
  of base64url from 32 random bytes), kept as `${NAME.verifier}` with its S256 challenge
  `${NAME.challenge}` (base64url of its SHA-256, no padding); the value is the challenge,
  for the authorize request's `code_challenge`.

A variable that was never captured is an authoring mistake (`UnboundVariable`), not a
divergence of the target.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import struct
from datetime import datetime, timezone
from typing import Any

from authflow.conformance import srp_client
from authflow.conformance.scenarios import ScenarioError

_WHOLE = re.compile(r"^\$\{([A-Za-z_][\w.-]*)\}$")
_INNER = re.compile(r"\$\{([A-Za-z_][\w.-]*)\}")


class UnboundVariable(KeyError):
    """A `${name}` the scenario never set."""

    def __str__(self) -> str:
        return f"variable ${{{self.args[0]}}} is not set (capture it in an earlier step)"


def lookup(variables: dict[str, Any], dotted: str) -> Any:
    head, *rest = dotted.split(".")
    if head not in variables:
        raise UnboundVariable(dotted)
    found, value = walk(variables[head], rest)
    if not found:
        raise UnboundVariable(dotted)
    return value


def walk(value: Any, parts: list[str]) -> tuple[bool, Any]:
    """Follow a dotted path (mapping keys, list indices) into a response: (found, value)."""
    for part in parts:
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.lstrip("-").isdigit() and -len(value) <= int(part) < len(value):
            value = value[int(part)]
        else:
            return False, None
    return True, value


def render(template: Any, variables: dict[str, Any]) -> Any:
    """The template with every variable and computed value filled in."""
    if isinstance(template, str):
        whole = _WHOLE.match(template)
        if whole:
            return lookup(variables, whole.group(1))
        return _INNER.sub(lambda m: _text(lookup(variables, m.group(1))), template)
    if isinstance(template, list):
        return [render(item, variables) for item in template]
    if isinstance(template, dict):
        if len(template) == 1 and "$secret_hash" in template:
            username, client_id, secret = (str(v) for v in render(template["$secret_hash"], variables))
            digest = hmac.new(secret.encode(), (username + client_id).encode(), hashlib.sha256).digest()
            return base64.b64encode(digest).decode()
        if len(template) == 1 and "$srp_a" in template:
            return _srp_a(str(render(template["$srp_a"], variables)), variables)
        if len(template) == 1 and "$srp_answer" in template:
            return _srp_answer(render(template["$srp_answer"], variables), variables)
        if len(template) == 1 and "$device_registration" in template:
            return _device_registration(render(template["$device_registration"], variables), variables)
        if len(template) == 1 and "$device_srp_a" in template:
            return _device_srp_a(str(render(template["$device_srp_a"], variables)), variables)
        if len(template) == 1 and "$device_answer" in template:
            return _device_answer(render(template["$device_answer"], variables), variables)
        if len(template) == 1 and "$totp" in template:
            return _totp(render(template["$totp"], variables), variables)
        if len(template) == 1 and "$pkce" in template:
            return _pkce(str(render(template["$pkce"], variables)), variables)
        out = {key: render(value, variables) for key, value in template.items() if key != "$merge"}
        if "$merge" in template:
            extra = render(template["$merge"], variables)
            for key, value in (extra or {}).items():
                if value is None:
                    out.pop(key, None)
                else:
                    out[key] = value
        return out
    return template


_SRP_STATE = "$srp"  # where the secrets of SRP sign-ins in progress are kept, by name
NOW = "$now"  # the target's time, set by the runner before each request is rendered


def _srp_a(name: str, variables: dict[str, Any]) -> str:
    a = secrets.randbelow(srp_client.N - 1) + 1
    variables.setdefault(_SRP_STATE, {})[name] = a
    return srp_client.SrpClient("unused_pool", a).srp_a


def _srp_answer(spec: Any, variables: dict[str, Any]) -> dict[str, str]:
    if not isinstance(spec, dict) or not {"with", "pool", "password", "challenge"} <= set(spec):
        raise ScenarioError("$srp_answer needs with, pool, password and challenge")
    state = variables.get(_SRP_STATE, {})
    if spec["with"] not in state:
        raise UnboundVariable(f"$srp_a {spec['with']}")
    client = srp_client.SrpClient(str(spec["pool"]), state[spec["with"]])
    now = variables.get(NOW) or datetime.now(timezone.utc)
    return client.answer(spec["challenge"], str(spec["password"]), now, username=spec.get("username"))


_DEVICE_STATE = "$devices"  # the devices registered so far, by name: keys, password, current `a`


def _device_registration(spec: Any, variables: dict[str, Any]) -> dict[str, str]:
    if not isinstance(spec, dict) or not {"name", "group_key", "device_key"} <= set(spec):
        raise ScenarioError("$device_registration needs name, group_key and device_key")
    # As both clients make them (reference devices-groups-mfa.md §1.4): 40 random bytes in
    # base64 as the device password, 16 random bytes of salt.
    password = base64.b64encode(secrets.token_bytes(40)).decode()
    device = {"group_key": str(spec["group_key"]), "device_key": str(spec["device_key"]), "password": password}
    variables.setdefault(_DEVICE_STATE, {})[str(spec["name"])] = device
    return srp_client.device_registration(device["group_key"], device["device_key"], password,
                                          secrets.token_bytes(16))


def _device(name: Any, variables: dict[str, Any]) -> dict[str, Any]:
    device = variables.get(_DEVICE_STATE, {}).get(str(name))
    if device is None:
        raise UnboundVariable(f"$device_registration {name}")
    return device


def _device_srp_a(name: str, variables: dict[str, Any]) -> str:
    device = _device(name, variables)
    device["a"] = secrets.randbelow(srp_client.N - 1) + 1
    return format(pow(srp_client.G, device["a"], srp_client.N), "x")


def _device_answer(spec: Any, variables: dict[str, Any]) -> dict[str, str]:
    if not isinstance(spec, dict) or not {"with", "challenge"} <= set(spec):
        raise ScenarioError("$device_answer needs with and challenge")
    device = _device(spec["with"], variables)
    if "a" not in device:
        raise UnboundVariable(f"$device_srp_a {spec['with']}")
    challenge = spec["challenge"]
    if not isinstance(challenge, dict):
        raise ScenarioError("$device_answer: challenge must be the DEVICE_PASSWORD_VERIFIER parameters")
    client = srp_client.DeviceSrpClient(device["group_key"], device["device_key"],
                                        str(spec.get("password") or device["password"]), device["a"])
    now = variables.get(NOW) or datetime.now(timezone.utc)
    return client.answer(challenge, str(spec.get("username") or challenge.get("USERNAME", "")), now)


def pkce_challenge(verifier: str) -> str:
    """RFC 7636 §4.2 S256: BASE64URL(SHA256(ASCII(code_verifier))), unpadded."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).decode().rstrip("=")


def _pkce(name: str, variables: dict[str, Any]) -> str:
    if not re.fullmatch(r"[A-Za-z_][\w-]*", name):
        raise ScenarioError(f"$pkce takes the name of a variable to keep the verifier in, not {name!r}")
    verifier = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    variables[name] = {"verifier": verifier, "challenge": pkce_challenge(verifier)}
    return variables[name]["challenge"]


TOTP_STEP_SECONDS = 30


def hotp(key: bytes, counter: int, digits: int = 6) -> str:
    """RFC 4226 HOTP with HMAC-SHA1: the dynamically truncated HMAC of the 8-byte
    big-endian counter, modulo 10^digits, zero-padded."""
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    binary = struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF
    return str(binary % 10 ** digits).zfill(digits)


def totp(key: bytes, unix_time: float, digits: int = 6, step_offset: int = 0) -> str:
    """RFC 6238 TOTP (T0 = 0, X = 30 s, SHA-1): the HOTP of floor(time / 30) + step_offset."""
    return hotp(key, int(unix_time // TOTP_STEP_SECONDS) + step_offset, digits)


def base32_key(secret: str) -> bytes:
    """The key of a SecretCode: RFC 4648 base32, case-blind, the padding Cognito leaves off restored."""
    text = secret.strip().upper()
    try:
        return base64.b32decode(text + "=" * (-len(text) % 8))
    except ValueError:
        raise ScenarioError(f"$totp: {secret!r} is not a base32 SecretCode") from None


def _totp(spec: Any, variables: dict[str, Any]) -> str:
    if not isinstance(spec, dict) or "secret" not in spec or set(spec) - {"secret", "step_offset", "as"}:
        raise ScenarioError("$totp needs secret (and takes step_offset and as)")
    secret = spec["secret"]
    if isinstance(secret, str) and secret in variables:
        secret = variables[secret]
    if not isinstance(secret, str) or not secret:
        raise ScenarioError("$totp: secret must be a SecretCode or the name of a variable holding one")
    offset = spec.get("step_offset") or 0
    if not isinstance(offset, int) or isinstance(offset, bool):
        raise ScenarioError("$totp: step_offset must be a whole number of 30-second steps")
    now = variables.get(NOW) or datetime.now(timezone.utc)
    code = totp(base32_key(secret), now.timestamp(), step_offset=offset)
    if spec.get("as"):
        variables[str(spec["as"])] = code
    return code


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
