"""The errors the policy engine raises, one tree:

    PolicyEngineError              base of everything simfleet.emulator.policy raises
    └── InvalidContextError        a PrincipalContext that cannot describe a real connection
                                   (also a ValueError)

Deciding a request never raises: a policy the engine cannot evaluate denies (see engine.py).
"""

from __future__ import annotations


class PolicyEngineError(Exception):
    """Base of every error the policy engine raises."""


class InvalidContextError(PolicyEngineError, ValueError):
    """A principal context that no real MQTT or HTTPS connection could have."""
