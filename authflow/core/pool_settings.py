"""A pool's settings kept beside its configuration: the SAML signing certificate, the risk
configuration (threat protection) of the pool and of its app clients, and log delivery.

Theory of operation
-------------------
Each setting is a `PoolResource`, so every store keeps it without a schema of its own and
it is deleted with the pool:

* kind "signing_certificate", name "current": the certificate (base64 DER) and its private
  key sealed under the engine's KEK (base64 of the sealed blob). Made once, on the first
  GetSigningCertificate, and returned unchanged afterwards (no yearly renewal here).
* kind "risk_configuration", name `POOL_LEVEL` for the pool, or the app client's id: the
  three configuration members as given (EventFilter filled in when absent). SetRiskConfiguration
  with none of them removes the record: the pool goes back to the defaults, a client back to
  inheriting the pool's configuration. DescribeRiskConfiguration with a ClientId shows the
  client's record if it has one, else the pool's, which carries no ClientId (it applies to
  every client without its own).
* kind "log_delivery", name `POOL_LEVEL`: the LogConfigurations as given. authflow has no
  CloudWatch Logs, S3 or Firehose: the configuration is validated and kept, and nothing is
  ever delivered to it.

Nothing is gated on the pool's feature plan except what the API reference names: info-level
`userAuthEvents` logs are a Plus-plan feature (FeatureUnavailableInTierException). Risk
configurations are accepted on every plan and whatever UserPoolAddOns says (Terraform's
provider tests set them on pools created with a name alone); threat protection itself is not
evaluated by authflow, so they change no sign-in.

This module decides and renders; it never writes and never mutates its arguments.
"""

from __future__ import annotations

import copy
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from authflow.core.records import PoolResource
from authflow.errors import FeatureUnavailableInTierException, InvalidParameterException

SIGNING_CERTIFICATE = "signing_certificate"
RISK_CONFIGURATION = "risk_configuration"
LOG_DELIVERY = "log_delivery"
#: The name of a pool-wide setting (no app client id can be it: ids are `[\w+]+`).
POOL_LEVEL = "*"
CURRENT = "current"

# -- signing certificate ---------------------------------------------------------------------


def certificate_resource(pool_id: str, *, certificate: str, sealed_key: str, now: datetime) -> PoolResource:
    return PoolResource(pool_id=pool_id, kind=SIGNING_CERTIFICATE, name=CURRENT,
                        body={"Certificate": certificate, "SealedKey": sealed_key}, created=now, modified=now)


def certificate_of(resource: PoolResource) -> dict[str, str]:
    """GetSigningCertificate's response: the certificate only, never the key."""
    return {"Certificate": resource.body["Certificate"]}


# -- risk configuration ----------------------------------------------------------------------

RISK_MEMBERS = ("CompromisedCredentialsRiskConfiguration", "AccountTakeoverRiskConfiguration",
                "RiskExceptionConfiguration")
#: "The default is to perform all events if no event filter is specified." (API reference)
ALL_EVENTS = ["SIGN_IN", "PASSWORD_CHANGE", "SIGN_UP"]
_ACTION_LEVELS = ("LowAction", "MediumAction", "HighAction")
_EMAILS = ("BlockEmail", "NoActionEmail", "MfaEmail")
_SES_IDENTITY = re.compile(r"arn:[\w-]+:ses:[a-z0-9-]+:[0-9]{12}:identity/.+")


def decide_risk_configuration(
    pool_id: str, client_id: str | None, request: Mapping[str, Any], *, existing: PoolResource | None,
    now: datetime,
) -> PoolResource | None:
    """SetRiskConfiguration: the record to write, or None when the request sets nothing (the
    record, if any, is removed)."""
    body: dict[str, Any] = {}
    compromised = request.get("CompromisedCredentialsRiskConfiguration")
    if compromised is not None:
        body["CompromisedCredentialsRiskConfiguration"] = {
            "EventFilter": list(compromised.get("EventFilter") or ALL_EVENTS),
            "Actions": copy.deepcopy(dict(compromised["Actions"])),
        }
    takeover = request.get("AccountTakeoverRiskConfiguration")
    if takeover is not None:
        _check_takeover(takeover)
        body["AccountTakeoverRiskConfiguration"] = copy.deepcopy(dict(takeover))
    exceptions = request.get("RiskExceptionConfiguration")
    if exceptions is not None:
        for member in ("BlockedIPRangeList", "SkippedIPRangeList"):
            for value in exceptions.get(member) or ():
                _check_cidr(member, value)
        body["RiskExceptionConfiguration"] = copy.deepcopy(dict(exceptions))
    if not body:
        return None
    name = client_id or POOL_LEVEL
    if existing is None:
        return PoolResource(pool_id=pool_id, kind=RISK_CONFIGURATION, name=name, body=body, created=now, modified=now)
    return replace(existing, body=body, modified=now, version=existing.version + 1)


def _check_takeover(takeover: Mapping[str, Any]) -> None:
    actions = takeover.get("Actions") or {}
    notify = takeover.get("NotifyConfiguration")
    notifying = [level for level in _ACTION_LEVELS if (actions.get(level) or {}).get("Notify")]
    if notifying and notify is None:
        raise InvalidParameterException(
            f"AccountTakeoverRiskConfiguration.Actions.{notifying[0]} notifies the user, so "
            "AccountTakeoverRiskConfiguration needs a NotifyConfiguration (SourceArn and the emails).",
            member="AccountTakeoverRiskConfiguration",
        )
    if notify is not None and not _SES_IDENTITY.fullmatch(notify["SourceArn"]):
        raise InvalidParameterException(
            f"NotifyConfiguration.SourceArn {notify['SourceArn']} is not the ARN of an Amazon SES identity "
            "(arn:aws:ses:<region>:<account id>:identity/<address or domain>).",
            member="AccountTakeoverRiskConfiguration",
        )


def _check_cidr(member: str, value: str) -> None:
    try:
        if "/" not in value:
            raise ValueError(value)
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise InvalidParameterException(
            f"RiskExceptionConfiguration.{member} holds {value!r}, which is not an IP address range in CIDR "
            "notation (such as 192.0.2.0/24).",
            member="RiskExceptionConfiguration",
        ) from None


def risk_configuration_type(pool_id: str, record: PoolResource | None) -> dict[str, Any]:
    """RiskConfigurationType: UserPoolId, ClientId for a client's own record, the members set,
    LastModifiedDate; a pool with no record shows its id alone."""
    out: dict[str, Any] = {"UserPoolId": pool_id}
    if record is None:
        return out
    if record.name != POOL_LEVEL:
        out["ClientId"] = record.name
    for member in RISK_MEMBERS:
        if member in record.body:
            out[member] = copy.deepcopy(record.body[member])
    out["LastModifiedDate"] = record.modified
    return out


def reset_risk_configuration_type(pool_id: str, client_id: str | None, now: datetime) -> dict[str, Any]:
    """What SetRiskConfiguration answers when it set nothing (the record was removed)."""
    out: dict[str, Any] = {"UserPoolId": pool_id}
    if client_id is not None:
        out["ClientId"] = client_id
    out["LastModifiedDate"] = now
    return out


# -- log delivery ----------------------------------------------------------------------------

#: Per event source: the one log level it sends and the destinations it may go to (API
#: reference, LogConfigurationType: userNotification is ERROR to CloudWatch Logs; userAuthEvents
#: is INFO to CloudWatch Logs, Firehose or S3, with the Plus feature plan).
EVENT_SOURCES: dict[str, tuple[str, tuple[str, ...]]] = {
    "userNotification": ("ERROR", ("CloudWatchLogsConfiguration",)),
    "userAuthEvents": ("INFO", ("CloudWatchLogsConfiguration", "FirehoseConfiguration", "S3Configuration")),
}
PLUS_ONLY_SOURCES = frozenset({"userAuthEvents"})
DESTINATIONS = {
    "CloudWatchLogsConfiguration": ("LogGroupArn", re.compile(
        r"arn:[\w-]+:logs:[a-z0-9-]+:(?P<account>[0-9]{12}):log-group:[\w#/.-]+(:\*)?")),
    "FirehoseConfiguration": ("StreamArn", re.compile(
        r"arn:[\w-]+:firehose:[a-z0-9-]+:(?P<account>[0-9]{12}):deliverystream/[\w.-]+")),
    "S3Configuration": ("BucketArn", re.compile(r"arn:[\w-]+:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")),
}


def decide_log_delivery(
    pool_id: str, request: Mapping[str, Any], *, tier: str, account_id: str, existing: PoolResource | None,
    now: datetime,
) -> PoolResource:
    """SetLogDeliveryConfiguration: the whole list is replaced; an empty list keeps none."""
    configurations = [_log_configuration(c, tier=tier, account_id=account_id) for c in request["LogConfigurations"]]
    sources = [c["EventSource"] for c in configurations]
    twice = sorted({s for s in sources if sources.count(s) > 1})
    if twice:
        raise InvalidParameterException(
            f"LogConfigurations may hold one configuration per EventSource: {twice[0]} is given twice.",
            member="LogConfigurations",
        )
    body = {"LogConfigurations": configurations}
    if existing is None:
        return PoolResource(pool_id=pool_id, kind=LOG_DELIVERY, name=POOL_LEVEL, body=body, created=now, modified=now)
    return replace(existing, body=body, modified=now, version=existing.version + 1)


def _log_configuration(given: Mapping[str, Any], *, tier: str, account_id: str) -> dict[str, Any]:
    source, level = given["EventSource"], given["LogLevel"]
    wanted_level, allowed = EVENT_SOURCES[source]
    if level != wanted_level:
        raise InvalidParameterException(
            f"EventSource {source} sends {wanted_level} logs only, not LogLevel {level}.", member="LogConfigurations"
        )
    if source in PLUS_ONLY_SOURCES and tier != "PLUS":
        raise FeatureUnavailableInTierException(
            f"Logs of EventSource {source} need the Plus feature plan; this user pool's UserPoolTier is {tier}."
        )
    destinations = [d for d in DESTINATIONS if given.get(d) is not None]
    if len(destinations) != 1:
        raise InvalidParameterException(
            f"A log configuration names exactly one destination ({', '.join(allowed)} for {source}); "
            f"this one names {len(destinations)}.",
            member="LogConfigurations",
        )
    destination = destinations[0]
    if destination not in allowed:
        raise InvalidParameterException(
            f"EventSource {source} can be delivered only to {' or '.join(allowed)}, not {destination}.",
            member="LogConfigurations",
        )
    member, shape = DESTINATIONS[destination]
    arn = (given[destination] or {}).get(member)
    match = shape.fullmatch(arn) if arn else None
    if match is None:
        raise InvalidParameterException(
            f"{destination}.{member} {arn} is not the ARN of a {destination.removesuffix('Configuration')} destination.",
            member="LogConfigurations",
        )
    if "account" in match.groupdict() and match["account"] != account_id:
        raise InvalidParameterException(
            f"{destination}.{member} {arn} belongs to another AWS account: logs go to the user pool's own account "
            f"({account_id}).",
            member="LogConfigurations",
        )
    return {"LogLevel": level, "EventSource": source, destination: {member: arn}}


def log_delivery_type(pool_id: str, record: PoolResource | None) -> dict[str, Any]:
    """LogDeliveryConfigurationType; a pool that never set one has an empty list."""
    configurations = copy.deepcopy(list(record.body["LogConfigurations"])) if record is not None else []
    return {"UserPoolId": pool_id, "LogConfigurations": configurations}
