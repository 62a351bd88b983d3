"""Pool settings kept as pool resources: GetSigningCertificate, SetRiskConfiguration,
DescribeRiskConfiguration, SetLogDeliveryConfiguration, GetLogDeliveryConfiguration.

The decisions and the record shapes are in `authflow.core.pool_settings`; this module opens the
transactions, asks, and writes. Log delivery is kept, never performed: authflow delivers no
logs to CloudWatch Logs, S3 or Firehose.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from authflow.core import pool_settings as core
from authflow.core.records import PoolResource
from authflow.crypto.signing_certificate import (
    SERIAL_BYTES,
    certificate_text,
    self_signed,
    serial_number,
)
from authflow.ports import VersionConflict
from authflow.service.engine import Engine
from authflow.service.registry import operation


def _certificate_context(pool_id: str) -> str:
    return f"signing-certificate:{pool_id}"


@operation("GetSigningCertificate")
def get_signing_certificate(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        held = tx.get_resource(pool.id, core.SIGNING_CERTIFICATE, core.CURRENT)
    if held is not None:
        return core.certificate_of(held)
    made = _new_certificate(engine, pool.id)  # key generation is slow: outside the transaction
    try:
        with engine.store.transaction() as tx:
            engine.require_pool(tx, pool.id)
            held = tx.get_resource(pool.id, core.SIGNING_CERTIFICATE, core.CURRENT)
            if held is not None:  # another call made it first: every caller sees that one
                return core.certificate_of(held)
            tx.put_resource(made)
    except VersionConflict:
        with engine.store.transaction() as tx:
            held = tx.get_resource(pool.id, core.SIGNING_CERTIFICATE, core.CURRENT)
        if held is None:
            raise
        return core.certificate_of(held)
    return core.certificate_of(made)


def _new_certificate(engine: Engine, pool_id: str) -> PoolResource:
    now = engine.now()
    # The RSA key comes from the engine's KeyFactory (the OS generator, as `cryptography`
    # draws it; a shared test key under TEST_KEYS): RSA generation cannot be driven by the
    # Entropy port. The serial number and the dates come from the ports, so seeded runs with
    # the test keys repeat byte for byte.
    der_key = engine.config.signing_keys()
    serial = serial_number(engine.entropy.random_bytes(SERIAL_BYTES))
    certificate = self_signed(der_key, common_name=pool_id, serial=serial, issued=now)
    sealed = engine.seal(der_key, _certificate_context(pool_id))
    return core.certificate_resource(pool_id, certificate=certificate_text(certificate),
                                     sealed_key=base64.b64encode(sealed).decode("ascii"), now=now)


def signing_certificate_key(engine: Engine, resource: PoolResource) -> bytes:
    """The PKCS#8 DER private key of a pool's signing certificate (for SAML request signing)."""
    return engine.unseal(base64.b64decode(resource.body["SealedKey"]), _certificate_context(resource.pool_id))


# -- risk configuration ----------------------------------------------------------------------


@operation("SetRiskConfiguration")
def set_risk_configuration(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    now = engine.now()
    client_id = request.get("ClientId")
    with engine.store.transaction() as tx:
        if client_id is not None:
            pool, _ = engine.require_client(tx, client_id, request["UserPoolId"])
        else:
            pool = engine.require_pool(tx, request["UserPoolId"])
        name = client_id or core.POOL_LEVEL
        existing = tx.get_resource(pool.id, core.RISK_CONFIGURATION, name)
        record = core.decide_risk_configuration(pool.id, client_id, request, existing=existing, now=now)
        if record is None:
            if existing is not None:
                tx.delete_resource(pool.id, core.RISK_CONFIGURATION, name)
            return {"RiskConfiguration": core.reset_risk_configuration_type(pool.id, client_id, now)}
        tx.put_resource(record)
    return {"RiskConfiguration": core.risk_configuration_type(pool.id, record)}


@operation("DescribeRiskConfiguration")
def describe_risk_configuration(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    client_id = request.get("ClientId")
    with engine.store.transaction() as tx:
        if client_id is not None:
            pool, _ = engine.require_client(tx, client_id, request["UserPoolId"])
        else:
            pool = engine.require_pool(tx, request["UserPoolId"])
        record = tx.get_resource(pool.id, core.RISK_CONFIGURATION, client_id) if client_id else None
        if record is None:  # a client without its own configuration has the pool's
            record = tx.get_resource(pool.id, core.RISK_CONFIGURATION, core.POOL_LEVEL)
    return {"RiskConfiguration": core.risk_configuration_type(pool.id, record)}


# -- log delivery ----------------------------------------------------------------------------


@operation("SetLogDeliveryConfiguration")
def set_log_delivery_configuration(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    now = engine.now()
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        record = core.decide_log_delivery(
            pool.id, request, tier=pool.config.get("UserPoolTier") or "ESSENTIALS",
            account_id=engine.config.account_id,
            existing=tx.get_resource(pool.id, core.LOG_DELIVERY, core.POOL_LEVEL), now=now,
        )
        tx.put_resource(record)
    return {"LogDeliveryConfiguration": core.log_delivery_type(pool.id, record)}


@operation("GetLogDeliveryConfiguration")
def get_log_delivery_configuration(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        record = tx.get_resource(pool.id, core.LOG_DELIVERY, core.POOL_LEVEL)
    return {"LogDeliveryConfiguration": core.log_delivery_type(pool.id, record)}
