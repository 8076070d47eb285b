"""The broker: sessions, routing and policy checks, with no sockets (docs/emulator.md "Broker").

A driver (``server.py``, or a test's in-memory transport) calls ``open_connection`` for each
accepted client and feeds the returned ``MqttConnection`` bytes; the broker writes back
through the connection's ``ClientTransport``. Time comes from the injected ``Clock``, timers
from the injected ``Scheduler`` (the event loop).

Behaviour (spec §4-§6):
- A denied Publish, Subscribe or RetainPublish closes the connection (AWS, MQTT 3.1.1);
  a denied Receive drops that one delivery. The authorizer counts every denial.
- PUBLISH on `$aws/things/{thing}/jobs/...` goes to the Jobs handler and never to
  subscribers. Its reply goes to the requesting session only, whether or not it subscribed
  (spec §1.1), still Receive-checked. [U] Its QoS is the request's, lowered to the highest
  QoS the requester was granted on a filter matching the reply topic, if any.
  Notifications the handler publishes while answering are routed after the reply, so a
  device sees `start-next/accepted` before the `notify-next` it caused.
- Other topics route through the subscription index to each matching session at
  min(publish QoS, granted QoS); a RETAIN publish is stored first (an empty payload clears
  it) and forwarded with RETAIN 0 (MQTT-3.3.1-9). A new SUBSCRIBE gets the retained
  messages its filters match, with RETAIN 1.
- A CONNECT for a client ID that is connected closes the older connection first (spec §5)
  and counts a takeover; MQTT-3.1.4-2 makes that a close without DISCONNECT, so its will
  is published.
- Clean session 0 keeps the session (subscriptions, unacknowledged and queued QoS 1
  messages) for ``session_expiry`` after the connection ends; clean session 1 discards any.

Quotas (spec §6), with ``quotas`` given (``simfleet.emulator.quotas`` says how they count):
- An authorized CONNECT over CONNECT/s per client ID or per account is closed with no
  CONNACK, like every refused CONNECT of MQTT 3.1.1, and counted (``RefusalReason.THROTTLED``);
  the connection that holds the client ID, if any, is not taken over.
- Publishes per second per connection count PUBLISH packets both ways (AWS: "inbound and
  outbound"): each PUBLISH from the client, and each message offered to the connected client
  (routed messages, Jobs replies and notifications, retained messages on SUBSCRIBE; not the
  redelivery of a resumed session, nor its queue, which were counted or never offered). The
  rest is dropped, the connection stays open: [U] an inbound QoS 1 PUBLISH dropped gets no
  PUBACK, so the client sends it again or times out, as seen from AWS IoT Core (Classmethod,
  "Behavior of MQTT messages when throttling occurs in AWS IoT Core", 2021); an outbound one
  is not sent at all (no queueing, no redelivery).
- Subscriptions per connection and payload size are ``BrokerConfig`` limits (set from the
  same ``QuotaConfig``); a breach closes the connection and is counted by quota too.
"""

from __future__ import annotations

import logging

from certs_tool.authority import der_certificate_id
from simfleet.emulator.broker.admission import admit, may_retain
from simfleet.emulator.broker.config import BrokerConfig
from simfleet.emulator.broker.connection import ConnectionState, MqttConnection
from simfleet.emulator.broker.counters import BrokerCounters, RefusalReason
from simfleet.emulator.broker.ports import ClientTransport, JobsHandler, PrincipalSource, Scheduler
from simfleet.emulator.broker.session import Session
from simfleet.emulator.clock import Clock
from simfleet.emulator.mqtt import (
    ConnAck,
    Connect,
    ConnectReturnCode,
    PubAck,
    Publish,
    QoS,
    RetainedMessage,
    RetainedStore,
    SubAck,
    SubAckReturnCode,
    Subscribe,
    SubscriptionIndex,
    UnsubAck,
    Unsubscribe,
    UnsupportedProtocolVersion,
    encode,
    validate_topic_filter,
    validate_topic_name,
)
from simfleet.emulator.quotas import Quota, Quotas
from simfleet.jobs import parse_jobs_topic

log = logging.getLogger("simfleet.emulator.broker")
_REPLY_QOS_CACHE = 64


class Broker:
    def __init__(
        self,
        *,
        principals: PrincipalSource,
        jobs: JobsHandler,
        clock: Clock,
        scheduler: Scheduler,
        config: BrokerConfig | None = None,
        counters: BrokerCounters | None = None,
        quotas: Quotas | None = None,
    ) -> None:
        self.config = BrokerConfig() if config is None else config
        if quotas is not None and self.config.with_quotas(quotas.config) != self.config:
            raise ValueError(
                "the BrokerConfig's subscription and payload limits differ from the quotas': "
                "build it with BrokerConfig(...).with_quotas(quotas.config)"
            )
        self.quotas = quotas
        self.clock = clock
        self.scheduler = scheduler
        self.counters = BrokerCounters() if counters is None else counters
        self._principals = principals
        self._jobs = jobs
        self._connections: set[MqttConnection] = set()
        self._online: dict[str, MqttConnection] = {}
        self._sessions: dict[str, Session] = {}
        self._index: SubscriptionIndex[Session] = SubscriptionIndex()
        self._retained = RetainedStore()
        self._deferred: list[tuple[str, bytes, QoS]] | None = None

    # -- the driver's side ---------------------------------------------------------------

    def open_connection(self, transport: ClientTransport) -> MqttConnection:
        """A client connected; its CONNECT must arrive within ``connect_timeout``."""
        connection = MqttConnection(self, transport)
        self._connections.add(connection)
        self.counters.connections_current += 1
        self.counters.connections_total += 1
        return connection

    def publish_internal(self, topic: str, payload: bytes, qos: int = 1) -> None:
        """Route a message from the emulator itself (Jobs notify / notify-next) to the
        subscribers of ``topic``, Receive-checked like any other."""
        message = (topic, payload, QoS(qos))
        if self._deferred is not None:
            self._deferred.append(message)
        else:
            self._route(*message)

    def close_certificate(self, certificate_id: str) -> int:
        """Close every connection of a certificate that may no longer connect (UpdateCertificate
        to INACTIVE or REVOKED, issue #7); return how many. [U] Without publishing their wills:
        nothing more is sent on behalf of a certificate that is no longer trusted. A scan of
        the connections: control-plane calls are rare (10 per second on AWS)."""
        closed = [c for c in self._connections if c.certificate_id == certificate_id]
        for connection in closed:
            log.info("%s: its certificate is no longer ACTIVE; closing", connection.label)
            self._end(connection, publish_will=False)
        return len(closed)

    def close_all(self) -> None:
        """Close every connection and forget every session (server shutdown)."""
        for connection in list(self._connections):
            self._end(connection, publish_will=False)
        for session in list(self._sessions.values()):
            self._drop_session(session)

    @property
    def session_count(self) -> int:
        return len(self._sessions)

    @property
    def subscription_count(self) -> int:
        return len(self._index)

    @property
    def retained_count(self) -> int:
        return len(self._retained)

    # -- packets, from MqttConnection ------------------------------------------------------

    def on_connect(self, connection: MqttConnection, packet: Connect) -> None:
        decision = admit(
            packet,
            certificate_der=connection.transport.peer_certificate(),
            source_ip=connection.transport.peer_address(),
            principals=self._principals,
            config=self.config,
            denials=self.counters.denials,
        )
        quotas = self.quotas
        if (
            quotas is not None
            and not isinstance(decision, RefusalReason)
            and not quotas.allow_connect(packet.client_id, self.clock.now())
        ):
            decision = RefusalReason.THROTTLED
        if isinstance(decision, RefusalReason):
            self.counters.refused(decision)
            if decision is RefusalReason.IDENTIFIER_REJECTED:
                code = ConnectReturnCode.IDENTIFIER_REJECTED
                connection.transport.write(encode(ConnAck(return_code=code)))
            log.info("%s: connect refused (%s)", connection.label, decision.value)
            self._end(connection, publish_will=False)
            return
        client_id = packet.client_id
        connection.client_id = client_id
        certificate = connection.transport.peer_certificate()
        connection.certificate_id = None if certificate is None else der_certificate_id(certificate)
        connection.authorizer = decision
        connection.will = packet.will
        if quotas is not None:
            connection.publish_quota = quotas.publish_bucket(self.clock.now())
        previous = self._online.get(client_id)
        if previous is not None:
            self.counters.takeovers += 1
            log.info("%s: taken over by a new connection", previous.label)
            self._end(previous, publish_will=True)
        session, present = self._resume_or_create(client_id, persistent=not packet.clean_session)
        self._online[client_id] = connection
        connection.session = session
        connection.start_keep_alive(self.config.keep_alive.deadline(packet.keep_alive))
        connection.transport.write(encode(ConnAck(session_present=present)))
        self.counters.connects_accepted += 1
        session.attach(connection)

    def on_publish(self, connection: MqttConnection, packet: Publish) -> None:
        self.counters.messages_in += 1
        if not connection.take_publish_token():
            return  # over the quota: dropped, no PUBACK (module docstring)
        topic = packet.topic
        validate_topic_name(topic, self.config.topic_limits)
        authorizer = connection.authorizer
        assert authorizer is not None  # set with CONNECTED
        if not authorizer.can_publish(topic):
            self._denied(connection, "iot:Publish", topic)
            return
        if packet.retain and not may_retain(authorizer, topic, self.counters.denials):
            self._denied(connection, "iot:RetainPublish", topic)
            return
        if packet.packet_id is not None:
            connection.transport.write(encode(PubAck(packet_id=packet.packet_id)))
        self._dispatch(topic, packet.payload, packet.qos, packet.retain, connection.session)

    def on_subscribe(self, connection: MqttConnection, packet: Subscribe) -> None:
        config = self.config
        if len(packet.topics) > config.max_filters_per_subscribe:
            self.protocol_error(
                connection, f"more than {config.max_filters_per_subscribe} filters in a SUBSCRIBE"
            )
            return
        for topic_filter, _ in packet.topics:
            validate_topic_filter(topic_filter, config.topic_limits)
        authorizer, session = connection.authorizer, connection.session
        assert authorizer is not None  # both set with CONNECTED
        assert session is not None
        for topic_filter, _ in packet.topics:
            if not authorizer.can_subscribe(topic_filter):  # the filter as sent (spec §4)
                self._denied(connection, "iot:Subscribe", topic_filter)
                return
        limit = config.max_subscriptions
        if limit is not None:
            filters = self._index.filters_of(session).keys() | {f for f, _ in packet.topics}
            if len(filters) > limit:
                self.quota_exceeded(
                    connection,
                    Quota.SUBSCRIPTIONS_PER_CONNECTION,
                    f"more than {limit} subscriptions",
                )
                return
        session.reply_qos.clear()
        for topic_filter, qos in packet.topics:
            self._index.add(topic_filter, session, qos)
        codes = tuple(SubAckReturnCode(qos) for _, qos in packet.topics)
        connection.transport.write(encode(SubAck(packet_id=packet.packet_id, return_codes=codes)))
        for topic_filter, granted in packet.topics:  # MQTT-3.8.4-3: on every SUBSCRIBE
            for message in self._retained.matching(topic_filter):
                qos = min(message.qos, granted)
                session.deliver(message.topic, message.payload, qos, retain=True)

    def on_unsubscribe(self, connection: MqttConnection, packet: Unsubscribe) -> None:
        session = connection.session
        assert session is not None  # set with CONNECTED
        session.reply_qos.clear()
        for topic_filter in packet.topic_filters:
            self._index.remove(topic_filter, session)
        connection.transport.write(encode(UnsubAck(packet_id=packet.packet_id)))

    def disconnect(self, connection: MqttConnection) -> None:
        self._end(connection, publish_will=False)

    # -- ends, from MqttConnection --------------------------------------------------------

    def connection_lost(self, connection: MqttConnection) -> None:
        self._end(connection, publish_will=True)

    def connect_timed_out(self, connection: MqttConnection) -> None:
        self.counters.refused(RefusalReason.CONNECT_TIMEOUT)
        log.info(
            "%s: no CONNECT within %g s; closing", connection.label, self.config.connect_timeout
        )
        self._end(connection, publish_will=False)

    def keep_alive_expired(self, connection: MqttConnection) -> None:
        self.counters.keep_alive_timeouts += 1
        log.info("%s: keep-alive expired; closing", connection.label)
        self._end(connection, publish_will=True)

    def protocol_error(self, connection: MqttConnection, reason: str) -> None:
        self.counters.protocol_errors += 1
        log.warning("%s: %s; closing", connection.label, reason)
        self._end(connection, publish_will=True)

    def quota_exceeded(self, connection: MqttConnection, quota: Quota, reason: str) -> None:
        """A limit quota breached (subscriptions, payload): closed as a protocol error."""
        if self.quotas is not None:
            self.quotas.exceeded(quota)
        self.protocol_error(connection, reason)

    def refuse_version(self, connection: MqttConnection, error: UnsupportedProtocolVersion) -> None:
        if connection.state is not ConnectionState.AWAITING_CONNECT:
            self.protocol_error(connection, "second CONNECT")
            return
        # §3.1.2.2: answer CONNACK 0x01, then close.
        self.counters.refused(RefusalReason.PROTOCOL_VERSION)
        code = ConnectReturnCode.UNACCEPTABLE_PROTOCOL_VERSION
        connection.transport.write(encode(ConnAck(return_code=code)))
        log.info("%s: connect refused (%s)", connection.label, error.reason)
        self._end(connection, publish_will=False)

    def internal_error(self, connection: MqttConnection, error: Exception) -> None:
        self._log_internal_error(connection, error)
        self._end(connection, publish_will=False)

    def _log_internal_error(self, connection: MqttConnection, error: Exception) -> None:
        self.counters.internal_errors += 1
        log.error(
            "%s: internal error %s: %s",
            connection.label,
            type(error).__name__,
            error,
            exc_info=error if log.isEnabledFor(logging.DEBUG) else None,
        )

    # -- internals ---------------------------------------------------------------------------

    def _denied(self, connection: MqttConnection, action: str, resource: str) -> None:
        log.warning("%s: %s denied on %s; closing", connection.label, action, resource)
        self._end(connection, publish_will=True)

    def _end(self, connection: MqttConnection, *, publish_will: bool) -> None:
        """Close ``connection`` (once): detach its session, publish its will if asked."""
        if connection not in self._connections:
            return
        self._connections.remove(connection)
        self.counters.connections_current -= 1
        was_connected = connection.state is ConnectionState.CONNECTED
        connection.shut()
        client_id = connection.client_id
        if client_id is not None and self._online.get(client_id) is connection:
            del self._online[client_id]
        session = connection.session
        if session is not None and session.outlet is connection:
            session.detach()
            if session.persistent:
                self._arm_expiry(session)
            else:
                self._drop_session(session)
        will = connection.will
        if publish_will and was_connected and will is not None:
            connection.will = None
            try:
                self._dispatch(will.topic, will.payload, will.qos, will.retain, None)
            except Exception as exc:  # from a timer or connection_lost: contain it here too
                self._log_internal_error(connection, exc)

    def _dispatch(
        self, topic: str, payload: bytes, qos: QoS, retain: bool, requester: Session | None
    ) -> None:
        """An authorized message: to the Jobs handler, or retained and routed."""
        jobs_topic = parse_jobs_topic(topic)
        if jobs_topic is None:
            if retain:
                self._retained.retain(RetainedMessage(topic=topic, payload=payload, qos=qos))
            self._route(topic, payload, qos)
            return
        outer, self._deferred = self._deferred, []
        try:
            reply = self._jobs.handle_mqtt(jobs_topic, payload)
        finally:
            deferred, self._deferred = self._deferred, outer
        if requester is not None:  # a will's requester is gone: its reply goes nowhere
            cache = requester.reply_qos
            if reply.topic in cache:
                granted = cache[reply.topic]
            else:
                if len(cache) >= _REPLY_QOS_CACHE:  # one entry per job id: keep it small
                    cache.clear()
                granted = cache[reply.topic] = self._index.match(reply.topic).get(requester)
            reply_qos = qos if granted is None else min(qos, granted)
            requester.deliver(reply.topic, reply.payload, reply_qos)
        for message in deferred:
            self._route(*message)

    def _route(self, topic: str, payload: bytes, qos: QoS) -> None:
        for session, granted in self._index.match(topic).items():
            session.deliver(topic, payload, qos if qos <= granted else granted)

    def _resume_or_create(self, client_id: str, *, persistent: bool) -> tuple[Session, bool]:
        """The client's session and whether it was kept from before (CONNACK session
        present, MQTT-3.2.2-2); a clean session discards any kept one (MQTT-3.1.2-6)."""
        session = self._sessions.get(client_id)
        if session is not None:
            if persistent and session.persistent:
                if session.expiry_timer is not None:
                    session.expiry_timer.cancel()
                    session.expiry_timer = None
                return session, True
            self._drop_session(session)
        session = Session(
            client_id, persistent=persistent, config=self.config, counters=self.counters
        )
        self._sessions[client_id] = session
        return session, False

    def _arm_expiry(self, session: Session) -> None:
        delay = self.config.session_expiry
        session.expires_at = self.clock.now() + delay
        session.expiry_timer = self.scheduler.call_later(delay, lambda: self._expire(session))

    def _expire(self, session: Session) -> None:
        session.expiry_timer = None
        if session.outlet is not None or self._sessions.get(session.client_id) is not session:
            return
        left = session.expires_at - self.clock.now()
        if left > 0:
            session.expiry_timer = self.scheduler.call_later(left, lambda: self._expire(session))
        else:
            self._drop_session(session)

    def _drop_session(self, session: Session) -> None:
        if session.expiry_timer is not None:
            session.expiry_timer.cancel()
            session.expiry_timer = None
        self._index.remove_all(session)
        if self._sessions.get(session.client_id) is session:
            del self._sessions[session.client_id]
