"""The service layer: one function per API operation.

Each function opens a transaction, loads records, calls the core to decide, writes
the decision, and only after the commit runs its effects (messages) through the
ports. Operations register themselves in `OPERATIONS` under Cognito's names.
"""

from authflow.service.registry import OPERATIONS, operation

__all__ = ["OPERATIONS", "operation"]
