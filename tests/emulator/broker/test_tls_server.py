"""The broker over real mutual TLS on 127.0.0.1, with paho and raw-socket clients."""

from __future__ import annotations

import json
import queue
import socket
import ssl
import threading
import time
from collections.abc import Iterator

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from certs_tool import DeviceRecord, Fleet
from simfleet.emulator.broker import ALPN_MQTT, BrokerConfig, KeepAlivePolicy
from simfleet.emulator.mqtt import (
    ConnAck,
    Connect,
    PingReq,
    PingResp,
    PubAck,
    Publish,
    QoS,
    SubAck,
    Subscribe,
)
from simfleet.jobs.topics import subscription_filters
from tests.conftest import MakeFleet
from tests.emulator.broker.helpers import OPEN_TOPICS_POLICY, WATCH_ALL_POLICY
from tests.emulator.broker.tls_helpers import RunningBroker, TlsClient, client_context

Q1 = QoS.AT_LEAST_ONCE


@pytest.fixture
def running(shared_fleet: Fleet) -> Iterator[RunningBroker]:
    broker = RunningBroker(shared_fleet, extra_policies=(OPEN_TOPICS_POLICY,))
    yield broker
    broker.close()


def _client(running: RunningBroker, index: int, **options: object) -> TlsClient:
    device = running.fleet.devices[index]
    return TlsClient(running.port, client_context(running.fleet, device), **options)  # type: ignore[arg-type]


def _connected(running: RunningBroker, index: int, *, clean: bool = True) -> TlsClient:
    client = _client(running, index)
    client.send(Connect(client_id=running.fleet.devices[index].client_id, clean_session=clean))
    assert isinstance(client.recv(), ConnAck)
    return client


class PahoDevice:
    """A paho-mqtt 2.2 client on its own network thread, recording what arrives."""

    def __init__(self, running: RunningBroker, device: DeviceRecord) -> None:
        self.messages: queue.Queue[paho.MQTTMessage] = queue.Queue()
        self.connected = threading.Event()
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=device.client_id, reconnect_on_failure=False
        )
        self.client.tls_set_context(client_context(running.fleet, device))
        self.client.on_connect = lambda *args: self.connected.set()
        self.client.on_message = lambda client, userdata, message: self.messages.put(message)
        self.client.connect("127.0.0.1", running.port, keepalive=60)
        self.client.loop_start()
        assert self.connected.wait(5)

    def subscribe(self, *filters: str) -> None:
        done = threading.Event()
        self.client.on_subscribe = lambda *args: done.set()
        self.client.subscribe([(f, 1) for f in filters])
        assert done.wait(5)

    def publish(self, topic: str, payload: dict[str, object]) -> None:
        self.client.publish(topic, json.dumps(payload), qos=1).wait_for_publish(5)

    def next_message(self) -> paho.MQTTMessage:
        return self.messages.get(timeout=5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_paho_device_runs_a_job(running: RunningBroker) -> None:
    device = running.fleet.devices[0]
    paho_device = PahoDevice(running, device)
    try:
        jobs = f"$aws/things/{device.thing_name}/jobs"
        paho_device.subscribe(*subscription_filters(device.thing_name))
        running.call(lambda: running.jobs.queue_job(device.thing_name, "job-1"))
        seen = [paho_device.next_message().topic for _ in range(2)]
        assert sorted(seen) == [f"{jobs}/notify", f"{jobs}/notify-next"]
        paho_device.publish(f"{jobs}/start-next", {"clientToken": "c1"})
        accepted = paho_device.next_message()
        assert accepted.topic == f"{jobs}/start-next/accepted"
        assert json.loads(accepted.payload)["execution"]["status"] == "IN_PROGRESS"
        paho_device.publish(f"{jobs}/job-1/update", {"status": "SUCCEEDED", "expectedVersion": 2})
        assert paho_device.next_message().topic == f"{jobs}/job-1/update/accepted"
    finally:
        paho_device.close()
    assert running.counters()["connects_accepted"] == 1


def _connect_and_read(port: int, context: ssl.SSLContext, client_id: str) -> None:
    """Handshake, CONNECT, read. With TLS 1.3 the server judges the client certificate after
    the client's side of the handshake is done, so a refusal shows on the first read."""
    client = TlsClient(port, context)
    try:
        client.send(Connect(client_id=client_id))
        client.sock.recv(1)
    finally:
        client.close()


def test_certificate_from_another_ca_is_refused(
    running: RunningBroker, make_fleet: MakeFleet
) -> None:
    stranger = make_fleet(count=1, name="stranger")
    context = client_context(stranger, stranger.devices[0], trust=running.fleet)
    with pytest.raises((ssl.SSLError, ConnectionError)):
        _connect_and_read(running.port, context, stranger.devices[0].client_id)
    counters = running.counters()
    assert counters["tls_failures"] == 1
    assert counters["connects_accepted"] == 0


def test_no_client_certificate_is_refused(running: RunningBroker) -> None:
    context = client_context(running.fleet, None)
    with pytest.raises((ssl.SSLError, ConnectionError)):
        _connect_and_read(running.port, context, running.fleet.devices[0].client_id)
    assert running.counters()["tls_failures"] == 1


def test_client_id_of_another_thing_is_closed_without_connack(running: RunningBroker) -> None:
    client = _client(running, 0)
    try:
        client.send(Connect(client_id=running.fleet.devices[1].client_id))
        assert client.recv_until_closed() == []
    finally:
        client.close()
    assert running.counters()["connects_refused.connect-denied"] == 1


@pytest.mark.parametrize(
    "packet",
    [
        pytest.param(Publish(topic="$aws/things/{other}/jobs/get", payload=b"{}"), id="publish"),
        pytest.param(
            Subscribe(packet_id=1, topics=(("$aws/things/{other}/jobs/notify", Q1),)),
            id="subscribe",
        ),
    ],
)
def test_other_things_topics_close_the_connection(
    running: RunningBroker, packet: Publish | Subscribe
) -> None:
    other = running.fleet.devices[1].thing_name
    if isinstance(packet, Publish):
        packet = Publish(topic=packet.topic.format(other=other), payload=packet.payload)
    else:
        packet = Subscribe(packet_id=1, topics=((packet.topics[0][0].format(other=other), Q1),))
    client = _connected(running, 0)
    try:
        client.send(packet)
        assert client.recv_until_closed() == []
    finally:
        client.close()
    assert running.counters()["connections_current"] == 0


def test_receive_denied_is_not_delivered(running: RunningBroker) -> None:
    receiver = _connected(running, 0)
    sender = _connected(running, 1)
    try:
        receiver.send(Subscribe(packet_id=1, topics=(("open/+", Q1),)))
        assert isinstance(receiver.recv(), SubAck)
        sender.send(Publish(topic="open/secret", payload=b"s", qos=Q1, packet_id=1))
        sender.send(Publish(topic="open/public", payload=b"p", qos=Q1, packet_id=2))
        assert [sender.recv(), sender.recv()] == [PubAck(packet_id=1), PubAck(packet_id=2)]
        delivered = receiver.recv()
        assert isinstance(delivered, Publish)
        assert (delivered.topic, delivered.payload) == ("open/public", b"p")
    finally:
        receiver.close()
        sender.close()
    assert running.counters()["policy_denials.iot:Receive"] == 1


def test_jobs_reply_goes_only_to_the_requester(shared_fleet: Fleet) -> None:
    running = RunningBroker(shared_fleet, extra_policies=(WATCH_ALL_POLICY,))
    watcher = _connected(running, 1)
    device = _connected(running, 0)
    try:
        thing = shared_fleet.devices[0].thing_name
        watcher.send(Subscribe(packet_id=1, topics=((f"$aws/things/{thing}/jobs/#", Q1),)))
        assert isinstance(watcher.recv(), SubAck)
        device.send(
            Publish(topic=f"$aws/things/{thing}/jobs/get", payload=b"{}", qos=Q1, packet_id=5)
        )
        assert device.recv() == PubAck(packet_id=5)
        reply = device.recv()
        assert isinstance(reply, Publish)
        assert reply.topic == f"$aws/things/{thing}/jobs/get/accepted"
        running.call(lambda: running.jobs.queue_job(thing, "job-1"))
        first = watcher.recv()  # the notification, not the earlier reply
        assert isinstance(first, Publish)
        assert first.topic == f"$aws/things/{thing}/jobs/notify"
    finally:
        watcher.close()
        device.close()
        running.close()


def test_takeover_closes_the_older_connection(running: RunningBroker) -> None:
    first = _connected(running, 0)
    second = _connected(running, 0)
    try:
        assert first.recv_until_closed() == []
        second.send(PingReq())
        assert second.recv() == PingResp()
    finally:
        first.close()
        second.close()
    counters = running.counters()
    assert (counters["takeovers"], counters["connects_accepted"]) == (1, 2)


def test_persistent_session_redelivers_after_reconnect(running: RunningBroker) -> None:
    subscriber = _connected(running, 0, clean=False)
    sender = _connected(running, 1)
    try:
        subscriber.send(Subscribe(packet_id=1, topics=(("open/public", Q1),)))
        assert isinstance(subscriber.recv(), SubAck)
        sender.send(Publish(topic="open/public", payload=b"one", qos=Q1, packet_id=1))
        first = subscriber.recv()
        assert isinstance(first, Publish)
        subscriber.close()  # without PUBACK
        assert sender.recv() == PubAck(packet_id=1)
        deadline = time.monotonic() + 5
        while running.counters()["connections_current"] != 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        sender.send(Publish(topic="open/public", payload=b"two", qos=Q1, packet_id=2))
        assert sender.recv() == PubAck(packet_id=2)
        again = _client(running, 0)
        again.send(Connect(client_id=running.fleet.devices[0].client_id, clean_session=False))
        assert again.recv() == ConnAck(session_present=True)
        redelivered, queued = again.recv(), again.recv()
        assert isinstance(redelivered, Publish)
        assert isinstance(queued, Publish)
        assert (redelivered.payload, redelivered.dup, redelivered.packet_id) == (
            b"one",
            True,
            first.packet_id,
        )
        assert (queued.payload, queued.dup) == (b"two", False)
        again.close()
    finally:
        sender.close()


def test_retained_message_reaches_a_later_subscriber(running: RunningBroker) -> None:
    sender = _connected(running, 1)
    sender.send(Publish(topic="open/public", payload=b"kept", qos=Q1, retain=True, packet_id=1))
    assert sender.recv() == PubAck(packet_id=1)
    late = _connected(running, 0)
    try:
        late.send(Subscribe(packet_id=2, topics=(("open/#", Q1),)))
        assert isinstance(late.recv(), SubAck)
        retained = late.recv()
        assert isinstance(retained, Publish)
        assert (retained.topic, retained.payload, retained.retain) == ("open/public", b"kept", True)
    finally:
        late.close()
        sender.close()


def test_keep_alive_expiry_closes(shared_fleet: Fleet) -> None:
    config = BrokerConfig(keep_alive=KeepAlivePolicy(minimum=1))
    running = RunningBroker(shared_fleet, config=config)
    client = _client(running, 0)
    try:
        client.send(Connect(client_id=shared_fleet.devices[0].client_id, keep_alive=1))
        assert isinstance(client.recv(), ConnAck)
        started = time.monotonic()
        assert client.recv_until_closed() == []
        assert 1.3 <= time.monotonic() - started < 4
        assert running.counters()["keep_alive_timeouts"] == 1
    finally:
        client.close()
        running.close()


@pytest.mark.parametrize("handshake", [False, True], ids=["no-tls-handshake", "no-connect"])
def test_silent_client_is_closed_after_the_connect_timeout(
    shared_fleet: Fleet, handshake: bool
) -> None:
    running = RunningBroker(shared_fleet, config=BrokerConfig(connect_timeout=0.5))
    try:
        if handshake:
            client = _client(running, 0)
            started = time.monotonic()
            assert client.recv_until_closed() == []
            client.close()
        else:
            with socket.create_connection(("127.0.0.1", running.port), timeout=5) as raw:
                started = time.monotonic()
                assert raw.recv(1) == b""
        assert time.monotonic() - started < 3
        assert running.counters()["connects_refused.connect-timeout"] == 1
    finally:
        running.close()


def test_malformed_packet_does_not_affect_another_client(running: RunningBroker) -> None:
    bystander = _connected(running, 1)
    offender = _connected(running, 0)
    try:
        offender.send_raw(b"\xf0\x00")
        assert offender.recv_until_closed() == []
        bystander.send(PingReq())
        assert bystander.recv() == PingResp()
    finally:
        offender.close()
        bystander.close()
    assert running.counters()["protocol_errors"] == 1


@pytest.mark.parametrize(
    ("offered", "selected"),
    [pytest.param(ALPN_MQTT, ALPN_MQTT, id="aws-443"), pytest.param("mqtt", None, id="other")],
)
def test_alpn(running: RunningBroker, offered: str, selected: str | None) -> None:
    client = _client(running, 0, alpn=offered)
    try:
        assert client.sock.selected_alpn_protocol() == selected
        client.send(Connect(client_id=running.fleet.devices[0].client_id))
        assert isinstance(client.recv(), ConnAck)
    finally:
        client.close()


def test_closing_the_server_closes_clients(shared_fleet: Fleet) -> None:
    running = RunningBroker(shared_fleet)
    client = _connected(running, 0)
    try:
        running.close()
        assert client.recv_until_closed() == []
    finally:
        client.close()
