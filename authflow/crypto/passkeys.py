"""WebAuthn ceremonies on py_webauthn: the options a browser gets, and the checks of what it
answers. Nothing here verifies a signature or an attestation by hand; py_webauthn does.

Theory of operation: Cognito names several ways a registration fails
(WebAuthnOriginNotAllowedException, ...RelyingPartyMismatchException, ...); py_webauthn raises
one exception whatever failed. So `inspect_registration` / `inspect_assertion` first read
the answer with py_webauthn's own parsers (what origin the client data names, which RP the
authenticator data hashes, whether UV was done, which key algorithm, which format) for the
caller to classify a refusal, and `verify_registration` / `verify_assertion` then run
py_webauthn's full verification, which is the authority: an answer passes only if it does.
Pure: challenges and user handles are arguments (py_webauthn draws random ones only when
they are not given, and they always are).

py_webauthn is the optional `passkeys` extra: it is imported on first use, so this module
(and `import authflow`) loads without it, and a ceremony then raises `Unavailable`.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

MISSING = "Passkeys need py_webauthn on the server: pip install 'authflow[passkeys]'."


class Unavailable(RuntimeError):
    """py_webauthn (the `passkeys` extra) is not installed."""


def _lib() -> SimpleNamespace:
    """py_webauthn's functions and types this module uses (Unavailable without it)."""
    try:
        import webauthn
        from webauthn import helpers
        from webauthn.helpers import cose, exceptions, structs
    except ImportError as err:
        raise Unavailable(MISSING) from err
    return SimpleNamespace(webauthn=webauthn, helpers=helpers, cose=cose, structs=structs,
                           WebAuthnException=exceptions.WebAuthnException)


def require() -> None:
    """Unavailable unless py_webauthn is installed (to refuse before anything is written)."""
    _lib()


#: The key algorithms Cognito offers (its pubKeyCredParams): ES256 (-7) and RS256 (-257).
ALGORITHMS = (-7, -257)
#: The attestation formats py_webauthn verifies (WebAuthn's registry, §8).
FORMATS = frozenset({"packed", "tpm", "android-key", "android-safetynet", "fido-u2f", "apple", "none"})


class Malformed(ValueError):
    """The answer is not a WebAuthn credential of the expected kind."""


class Rejected(ValueError):
    """py_webauthn's verification refused an answer that parsed."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def rp_id_hash(rp_id: str) -> bytes:
    return hashlib.sha256(rp_id.encode("utf-8")).digest()


def _descriptors(lib: SimpleNamespace, credentials: Sequence[tuple[str, Sequence[str]]]) -> list:
    known = {t.value for t in lib.structs.AuthenticatorTransport}
    return [
        lib.structs.PublicKeyCredentialDescriptor(
            id=unb64url(cid),
            transports=[lib.structs.AuthenticatorTransport(t) for t in transports if t in known] or None,
        )
        for cid, transports in credentials
    ]


def creation_options(*, rp_id: str, user_id: bytes, user_name: str, challenge: bytes, timeout_ms: int,
                     exclude: Sequence[tuple[str, Sequence[str]]], user_verification: str) -> dict[str, Any]:
    """PublicKeyCredentialCreationOptionsJSON for a discoverable credential (a passkey):
    `exclude` is (credential id, transports) of the user's passkeys."""
    lib = _lib()
    cose = lib.cose.COSEAlgorithmIdentifier
    options = lib.webauthn.generate_registration_options(
        rp_id=rp_id, rp_name=rp_id, user_name=user_name, user_id=user_id, challenge=challenge, timeout=timeout_ms,
        authenticator_selection=lib.structs.AuthenticatorSelectionCriteria(
            resident_key=lib.structs.ResidentKeyRequirement.REQUIRED,
            user_verification=lib.structs.UserVerificationRequirement(user_verification),
        ),
        exclude_credentials=_descriptors(lib, exclude), supported_pub_key_algs=[cose(a) for a in ALGORITHMS],
    )
    return json.loads(lib.helpers.options_to_json(options))  # plain JSON values (the algorithms are enums)


def request_options(*, rp_id: str, challenge: bytes, timeout_ms: int, allow: Sequence[tuple[str, Sequence[str]]],
                    user_verification: str) -> str:
    """PublicKeyCredentialRequestOptionsJSON, as a JSON string."""
    lib = _lib()
    options = lib.webauthn.generate_authentication_options(
        rp_id=rp_id, challenge=challenge, timeout=timeout_ms, allow_credentials=_descriptors(lib, allow),
        user_verification=lib.structs.UserVerificationRequirement(user_verification),
    )
    return lib.helpers.options_to_json(options)


def _as_json(credential: str | Mapping[str, Any]) -> str:
    if isinstance(credential, str):
        return credential
    try:
        return json.dumps(dict(credential))
    except (TypeError, ValueError) as err:
        raise Malformed("not JSON") from err


@dataclass(frozen=True, slots=True, kw_only=True)
class Answer:
    """What a registration or assertion answer claims, read but not yet verified."""

    credential_id: str
    client_data_type: str
    challenge: bytes
    origin: str
    rp_id_hash: bytes
    user_verified: bool
    algorithm: int | None = None  # registration only
    fmt: str | None = None  # registration only
    transports: tuple[str, ...] = ()
    attachment: str | None = None
    user_handle: bytes | None = None  # assertion only, when the authenticator sends one


def inspect_registration(credential: str | Mapping[str, Any]) -> Answer:
    """A RegistrationResponseJSON's claims (Malformed when it is not one)."""
    helpers = _lib().helpers
    try:
        parsed = helpers.parse_registration_credential_json(_as_json(credential))
        client = helpers.parse_client_data_json(bytes(parsed.response.client_data_json))
        attestation = helpers.parse_attestation_object(bytes(parsed.response.attestation_object))
        attested = attestation.auth_data.attested_credential_data
        algorithm = helpers.decode_credential_public_key(attested.credential_public_key).alg if attested else None
    except Malformed:
        raise
    except Exception as err:  # noqa: BLE001 -- py_webauthn's parsers raise many kinds on bad input
        raise Malformed(str(err)) from err
    if parsed.id != b64url(bytes(parsed.raw_id)):
        raise Malformed("id and rawId differ")
    fmt = str(getattr(attestation.fmt, "value", attestation.fmt))
    return Answer(
        credential_id=parsed.id, client_data_type=str(getattr(client.type, "value", client.type)),
        challenge=client.challenge, origin=client.origin, rp_id_hash=attestation.auth_data.rp_id_hash,
        user_verified=bool(attestation.auth_data.flags.uv), algorithm=algorithm, fmt=fmt,
        transports=tuple(t.value for t in parsed.response.transports or ()),
        attachment=parsed.authenticator_attachment.value if parsed.authenticator_attachment else None,
    )


def supported(answer: Answer) -> bool:
    """Whether the credential's key algorithm and attestation format are ones accepted here."""
    return answer.algorithm in ALGORITHMS and answer.fmt in FORMATS


@dataclass(frozen=True, slots=True, kw_only=True)
class Registered:
    credential_id: str
    public_key: str  # COSE_Key, base64url
    sign_count: int
    aaguid: str
    user_verified: bool
    backed_up: bool


def verify_registration(credential: str | Mapping[str, Any], *, challenge: bytes, rp_id: str, origin: str,
                        require_user_verification: bool) -> Registered:
    lib = _lib()
    cose = lib.cose.COSEAlgorithmIdentifier
    try:
        verified = lib.webauthn.verify_registration_response(
            credential=_as_json(credential), expected_challenge=challenge, expected_rp_id=rp_id,
            expected_origin=origin, require_user_verification=require_user_verification,
            supported_pub_key_algs=[cose(a) for a in ALGORITHMS],
        )
    except (lib.WebAuthnException, ValueError, TypeError, KeyError) as err:  # a crafted answer can upset any step
        raise Rejected(str(err)) from err
    return Registered(
        credential_id=b64url(verified.credential_id), public_key=b64url(verified.credential_public_key),
        sign_count=verified.sign_count, aaguid=verified.aaguid, user_verified=verified.user_verified,
        backed_up=verified.credential_backed_up,
    )


def inspect_assertion(credential: str | Mapping[str, Any]) -> Answer:
    """An AuthenticationResponseJSON's claims (Malformed when it is not one)."""
    helpers = _lib().helpers
    try:
        parsed = helpers.parse_authentication_credential_json(_as_json(credential))
        client = helpers.parse_client_data_json(bytes(parsed.response.client_data_json))
        auth_data = helpers.parse_authenticator_data(bytes(parsed.response.authenticator_data))
    except Malformed:
        raise
    except Exception as err:  # noqa: BLE001 -- as in inspect_registration
        raise Malformed(str(err)) from err
    if parsed.id != b64url(bytes(parsed.raw_id)):
        raise Malformed("id and rawId differ")
    return Answer(
        credential_id=parsed.id, client_data_type=str(getattr(client.type, "value", client.type)),
        challenge=client.challenge, origin=client.origin, rp_id_hash=auth_data.rp_id_hash,
        user_verified=bool(auth_data.flags.uv),
        user_handle=bytes(parsed.response.user_handle) if parsed.response.user_handle else None,
    )


def verify_assertion(credential: str | Mapping[str, Any], *, challenge: bytes, rp_id: str, origin: str,
                     public_key: str, sign_count: int, require_user_verification: bool) -> int:
    """The authenticator's new sign count, if the assertion verifies under `public_key`
    (py_webauthn also refuses a counter that does not increase when either is nonzero)."""
    lib = _lib()
    try:
        verified = lib.webauthn.verify_authentication_response(
            credential=_as_json(credential), expected_challenge=challenge, expected_rp_id=rp_id,
            expected_origin=origin, credential_public_key=unb64url(public_key),
            credential_current_sign_count=sign_count, require_user_verification=require_user_verification,
        )
    except (lib.WebAuthnException, ValueError, TypeError, KeyError) as err:  # a crafted answer can upset any step
        raise Rejected(str(err)) from err
    return verified.new_sign_count
