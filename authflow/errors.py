"""The one error hierarchy: every failure that leaves authflow is a `CognitoError`.

Each leaf is named exactly as Amazon Cognito names the exception on the wire, so
`except client.exceptions.NotAuthorizedException` works as it does with boto3. The
root carries the wire facts (`code`, `message`, `http_status`) and a botocore-like
`response` dict, so code written against `botocore.exceptions.ClientError` can read
`err.response["Error"]["Code"]` unchanged.

This module imports nothing from authflow: every layer may raise these errors.
"""

from __future__ import annotations

from typing import Any


class CognitoError(Exception):
    """Root of every error authflow raises through its public surface."""

    code: str = "CognitoError"
    http_status: int = 400
    default_message: str = ""

    def __init__(self, message: str | None = None, **fields: Any) -> None:
        self.message = self.default_message if message is None else message
        # Structured details (the offending member, the username ...) for callers
        # that want more than the text; never put secrets here.
        self.fields = fields
        super().__init__(self.message)

    @property
    def response(self) -> dict[str, Any]:
        return {
            "Error": {"Code": self.code, "Message": self.message},
            "ResponseMetadata": {"HTTPStatusCode": self.http_status},
            "message": self.message,
        }

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.code = cls.__name__

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


# -- request-stage errors: the request itself is wrong ------------------------------------


class InvalidParameterException(CognitoError):
    """A member is missing, malformed, or not allowed in this combination."""


class InvalidPasswordException(CognitoError):
    """The password breaks the pool's password policy."""


class PasswordHistoryPolicyViolationException(CognitoError):
    pass


class InvalidUserPoolConfigurationException(CognitoError):
    pass


class InvalidOAuthFlowException(CognitoError):
    pass


class ScopeDoesNotExistException(CognitoError):
    pass


class InvalidEmailRoleAccessPolicyException(CognitoError):
    pass


class InvalidSmsRoleAccessPolicyException(CognitoError):
    pass


class InvalidSmsRoleTrustRelationshipException(CognitoError):
    pass


class UnsupportedIdentityProviderException(CognitoError):
    pass


class UnsupportedOperationException(CognitoError):
    pass


class UnsupportedTokenTypeException(CognitoError):
    pass


class UnsupportedUserStateException(CognitoError):
    pass


class FeatureUnavailableInTierException(CognitoError):
    pass


class TierChangeNotAllowedException(CognitoError):
    pass


class UserPoolAddOnNotEnabledException(CognitoError):
    pass


class UserPoolTaggingException(CognitoError):
    pass


class PreconditionNotMetException(CognitoError):
    pass


class ConcurrentModificationException(CognitoError):
    pass


class OperationNotEnabledException(CognitoError):
    pass


class ServiceQuotaExceededException(CognitoError):
    pass


class CachedCIMDURLDoesNotExistException(CognitoError):
    pass


# -- lookup-stage errors: something named in the request is not there, or already is -------


class ResourceNotFoundException(CognitoError):
    pass


class UserNotFoundException(CognitoError):
    default_message = "User does not exist."


class UsernameExistsException(CognitoError):
    pass


class AliasExistsException(CognitoError):
    pass


class GroupExistsException(CognitoError):
    pass


class DuplicateProviderException(CognitoError):
    pass


class DeviceKeyExistsException(CognitoError):
    pass


class ManagedLoginBrandingExistsException(CognitoError):
    pass


class TermsExistsException(CognitoError):
    pass


class UserImportInProgressException(CognitoError):
    pass


# -- authentication-stage errors ------------------------------------------------------------


class NotAuthorizedException(CognitoError):
    pass


class UserNotConfirmedException(CognitoError):
    default_message = "User is not confirmed."


class PasswordResetRequiredException(CognitoError):
    default_message = "Password reset required for the user"


class CodeMismatchException(CognitoError):
    default_message = "Invalid verification code provided, please try again."


class ExpiredCodeException(CognitoError):
    default_message = "Invalid code provided, please request a code again."


class TooManyFailedAttemptsException(CognitoError):
    pass


class MFAMethodNotFoundException(CognitoError):
    pass


class SoftwareTokenMFANotFoundException(CognitoError):
    pass


class EnableSoftwareTokenMFAException(CognitoError):
    pass


class RefreshTokenReuseException(CognitoError):
    pass


class UnauthorizedException(CognitoError):
    pass


class AccessDeniedException(CognitoError):
    pass


class ForbiddenException(CognitoError):
    pass


class WebAuthnChallengeNotFoundException(CognitoError):
    pass


class WebAuthnClientMismatchException(CognitoError):
    pass


class WebAuthnConfigurationMissingException(CognitoError):
    pass


class WebAuthnCredentialNotSupportedException(CognitoError):
    pass


class WebAuthnNotEnabledException(CognitoError):
    pass


class WebAuthnOriginNotAllowedException(CognitoError):
    pass


class WebAuthnRelyingPartyMismatchException(CognitoError):
    pass


# -- limits ------------------------------------------------------------------------------------


class LimitExceededException(CognitoError):
    default_message = "Attempt limit exceeded, please try after some time."


class TooManyRequestsException(CognitoError):
    default_message = "Rate exceeded"


# -- delivery and triggers -------------------------------------------------------------------


class CodeDeliveryFailureException(CognitoError):
    default_message = "Unable to deliver code to user"


class UserLambdaValidationException(CognitoError):
    pass


class InvalidLambdaResponseException(CognitoError):
    pass


class UnexpectedLambdaException(CognitoError):
    pass


# -- faults --------------------------------------------------------------------------------


class InternalErrorException(CognitoError):
    http_status = 500
    default_message = "Internal server error."


class InternalServerException(CognitoError):
    http_status = 500


# -- front-end errors (not in the Cognito model; the AWS front end raises them) -------------


class UnknownOperationException(CognitoError):
    pass


class SerializationException(CognitoError):
    """The body is not a JSON object (AWS's JSON front end uses this name)."""


# Request signing (SigV4). AWS's front end answers with these names; the texts are the
# ones AWS JSON services send.


class MissingAuthenticationTokenException(CognitoError):
    default_message = "Missing Authentication Token"


class IncompleteSignatureException(CognitoError):
    pass


class UnrecognizedClientException(CognitoError):
    default_message = "The security token included in the request is invalid."


class InvalidSignatureException(CognitoError):
    default_message = (
        "The request signature we calculated does not match the signature you provided. "
        "Check your AWS Secret Access Key and signing method. "
        "Consult the service documentation for details."
    )


def _leaves() -> dict[str, type[CognitoError]]:
    found: dict[str, type[CognitoError]] = {}
    stack = list(CognitoError.__subclasses__())
    while stack:
        cls = stack.pop()
        found[cls.__name__] = cls
        stack.extend(cls.__subclasses__())
    return found


#: Every error class by its Cognito name.
ERRORS: dict[str, type[CognitoError]] = _leaves()


def error_class(name: str) -> type[CognitoError]:
    """The class for a Cognito error name (`InternalErrorException` for unknown names)."""
    return ERRORS.get(name, InternalErrorException)
