"""authflow: Amazon Cognito user-pool semantics as explicit, data-defined state machines.

    >>> import authflow
    >>> client = authflow.Client()
    >>> pool = client.create_user_pool(PoolName="demo")["UserPool"]
"""

from authflow import errors, tokens
from authflow.client import Client
from authflow.config import EngineConfig

__all__ = ["Client", "EngineConfig", "errors", "tokens"]
__version__ = "0.1.0"
