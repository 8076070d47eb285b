"""The emulator's MQTT 3.1.1 broker over mutual TLS, on asyncio (spec §4-§6).

- ``Broker``: sessions, routing, policy checks and the Jobs hand-off, with no sockets: a
  driver feeds it bytes through ``open_connection``; tests do so in memory.
- ``BrokerServer`` + ``ssl_context_for_fleet``: the asyncio listener and its TLS context.
- ``BrokerConfig`` / ``KeepAlivePolicy``: limits (AWS quotas by default).
- ``BrokerCounters``: plain counters for the app to expose.
- ``Principal``, ``PrincipalSource``, ``JobsHandler``, ``ClientTransport``, ``Scheduler``:
  the structural types the broker codes against.

Errors: the broker raises none of its own. A client's bad input, denied request or
timeout closes that client's connection, is counted and logged on one line (logger
``simfleet.emulator.broker``); an exception in our own code while handling one connection
closes that connection only (``internal_errors``). Bad configuration raises ValueError.
"""

from simfleet.emulator.broker.broker import Broker
from simfleet.emulator.broker.config import BrokerConfig, KeepAlivePolicy
from simfleet.emulator.broker.connection import ConnectionState, MqttConnection
from simfleet.emulator.broker.counters import BrokerCounters, RefusalReason
from simfleet.emulator.broker.ports import (
    Cancellable,
    ClientTransport,
    JobsHandler,
    Principal,
    PrincipalSource,
    Scheduler,
)
from simfleet.emulator.broker.server import BrokerServer
from simfleet.emulator.broker.tls import ALPN_MQTT, ssl_context_for_fleet

__all__ = [
    "ALPN_MQTT",
    "Broker",
    "BrokerConfig",
    "BrokerCounters",
    "BrokerServer",
    "Cancellable",
    "ClientTransport",
    "ConnectionState",
    "JobsHandler",
    "KeepAlivePolicy",
    "MqttConnection",
    "Principal",
    "PrincipalSource",
    "RefusalReason",
    "Scheduler",
    "ssl_context_for_fleet",
]
