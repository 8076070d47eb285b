"""CONNECT, keep-alive, takeover and timeouts, on an in-memory broker (spec §4-§6)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from certs_tool import Fleet
from simfleet.emulator.broker import BrokerConfig, KeepAlivePolicy, RefusalReason
from simfleet.emulator.mqtt import (
    ConnAck,
    Connect,
    ConnectReturnCode,
    Disconnect,
    PingReq,
    PingResp,
    Publish,
    QoS,
    Will,
)
from tests.emulator.broker.helpers import MemoryBroker, device_der, memory_broker


def test_accepted_connect_gets_connack(mem: MemoryBroker) -> None:
    client = mem.client(0)
    ack = client.connect(mem.thing(0))
    assert ack == ConnAck(session_present=False, return_code=ConnectReturnCode.ACCEPTED)
    assert not client.closed()
    counters = mem.broker.counters
    assert (counters.connects_accepted, counters.connections_current) == (1, 1)


def _server_der(mem: MemoryBroker) -> bytes:
    pem = mem.fleet.server_cert_path.read_bytes()
    return x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)


Setup = Callable[[MemoryBroker], tuple[bytes | None, Connect]]


def _connect(mem: MemoryBroker, index: int = 0, **fields: object) -> Connect:
    values: dict[str, object] = {"client_id": mem.thing(index)} | fields
    return Connect(**values)  # type: ignore[arg-type]


def _der(mem: MemoryBroker, index: int = 0) -> bytes:
    return device_der(mem.fleet, mem.fleet.devices[index])


def _inactive(mem: MemoryBroker) -> tuple[bytes | None, Connect]:
    mem.principals.change(mem.fleet.devices[0], status="INACTIVE")
    return _der(mem), _connect(mem)


def _detached(mem: MemoryBroker) -> tuple[bytes | None, Connect]:
    mem.principals.change(mem.fleet.devices[0], things=())  # IsAttached is false
    return _der(mem), _connect(mem)


SILENT_REFUSALS = [
    pytest.param(lambda m: (None, _connect(m)), RefusalReason.NO_CERTIFICATE, id="no-cert"),
    pytest.param(
        lambda m: (_server_der(m), _connect(m)), RefusalReason.UNKNOWN_CERTIFICATE, id="unknown"
    ),
    pytest.param(_inactive, RefusalReason.INACTIVE_CERTIFICATE, id="inactive"),
    pytest.param(
        lambda m: (_der(m, 0), _connect(m, 1)), RefusalReason.CONNECT_DENIED, id="other-thing-id"
    ),
    pytest.param(_detached, RefusalReason.CONNECT_DENIED, id="not-attached"),
    pytest.param(
        lambda m: (_der(m), _connect(m, will=Will(topic="elsewhere", payload=b"x"))),
        RefusalReason.CONNECT_DENIED,
        id="will-denied",
    ),
    pytest.param(
        lambda m: (
            _der(m),
            _connect(
                m, will=Will(topic=f"$aws/things/{m.thing(0)}/jobs/get", payload=b"{}", retain=True)
            ),
        ),
        RefusalReason.CONNECT_DENIED,
        id="will-retained-on-reserved",
    ),
]


@pytest.mark.parametrize(("setup", "reason"), SILENT_REFUSALS)
def test_refused_connect_is_closed_without_connack(
    mem: MemoryBroker, setup: Setup, reason: RefusalReason
) -> None:
    certificate, connect = setup(mem)
    client = mem.client(certificate=certificate)
    client.send(connect)
    assert client.received() == []  # spec §4: no CONNACK for MQTT 3.1.1
    assert client.closed()
    counters = mem.broker.counters
    assert counters.connects_refused == {reason: 1}
    assert (counters.connects_accepted, counters.connections_current) == (0, 0)


@pytest.mark.parametrize("client_id", ["", "x" * 129], ids=["empty", "129-bytes"])
def test_bad_client_id_is_rejected_with_connack_2(mem: MemoryBroker, client_id: str) -> None:
    client = mem.client(0)
    client.send(Connect(client_id=client_id))
    assert client.received() == [ConnAck(return_code=ConnectReturnCode.IDENTIFIER_REJECTED)]
    assert client.closed()
    assert mem.broker.counters.connects_refused == {RefusalReason.IDENTIFIER_REJECTED: 1}


def test_other_protocol_version_gets_connack_1(mem: MemoryBroker) -> None:
    client = mem.client(0)
    name = mem.thing(0).encode()
    body = b"\x00\x06MQIsdp\x03\x02\x00\x3c" + len(name).to_bytes(2, "big") + name
    client.send_raw(bytes((0x10, len(body))) + body)
    assert client.received() == [
        ConnAck(return_code=ConnectReturnCode.UNACCEPTABLE_PROTOCOL_VERSION)
    ]
    assert client.closed()
    assert mem.broker.counters.connects_refused == {RefusalReason.PROTOCOL_VERSION: 1}


def test_denied_connect_is_a_counted_policy_denial(mem: MemoryBroker) -> None:
    client = mem.client(0)
    client.send(_connect(mem, 1))
    assert client.closed()
    assert mem.broker.counters.denials.count("iot:Connect") == 1


def test_connect_must_arrive_within_the_timeout(mem: MemoryBroker) -> None:
    client = mem.client(0)
    mem.scheduler.advance(9.9)
    assert not client.closed()
    mem.scheduler.advance(0.1)
    assert client.closed()
    assert mem.broker.counters.connects_refused == {RefusalReason.CONNECT_TIMEOUT: 1}


def test_connect_in_time_cancels_the_timeout(mem: MemoryBroker) -> None:
    client = mem.connected(0, keep_alive=1200)
    mem.scheduler.advance(11)
    assert not client.closed()
    assert mem.broker.counters.connects_refused == {}


@pytest.mark.parametrize(
    ("requested", "effective"),
    [
        pytest.param(0, 1200, id="zero-is-max"),
        pytest.param(1, 30, id="below-min"),
        pytest.param(30, 30, id="min"),
        pytest.param(600, 600, id="within"),
        pytest.param(1200, 1200, id="max"),
        pytest.param(1201, 1200, id="above-max"),
        pytest.param(65535, 1200, id="largest"),
    ],
)
def test_keep_alive_is_clamped_like_aws(requested: int, effective: int) -> None:
    policy = KeepAlivePolicy()
    assert policy.effective(requested) == effective
    assert policy.deadline(requested) == effective * 1.5


@pytest.mark.parametrize(
    "bounds",
    [
        pytest.param({"minimum": 0}, id="zero-min"),
        pytest.param({"minimum": 40, "maximum": 30}, id="min-over-max"),
        pytest.param({"grace": 0.5}, id="grace-under-1"),
    ],
)
def test_keep_alive_policy_refuses_bad_bounds(bounds: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="keep-alive"):
        KeepAlivePolicy(**bounds)  # type: ignore[arg-type]


def test_keep_alive_expires_at_one_and_a_half_times(mem: MemoryBroker) -> None:
    client = mem.connected(0, keep_alive=60)
    mem.scheduler.advance(89)
    client.send(PingReq())
    assert client.received() == [PingResp()]
    mem.scheduler.advance(89)  # 89 s after the PINGREQ: still inside 90 s
    assert not client.closed()
    mem.scheduler.advance(1)
    assert client.closed()
    assert mem.broker.counters.keep_alive_timeouts == 1


def test_keep_alive_uses_the_clamped_value(shared_fleet: Fleet) -> None:
    config = BrokerConfig(keep_alive=KeepAlivePolicy(minimum=2))
    mem = memory_broker(shared_fleet, config=config)
    client = mem.connected(0, keep_alive=1)  # clamped up to 2 s: closed after 3 s
    mem.scheduler.advance(2.9)
    assert not client.closed()
    mem.scheduler.advance(0.1)
    assert client.closed()


def test_second_connection_takes_over_the_client_id(mem: MemoryBroker) -> None:
    will = Will(topic=f"$aws/things/{mem.thing(0)}/jobs/get", payload=b"{}")
    first = mem.client(0)
    first.send(_connect(mem, will=will))
    assert isinstance(first.received()[0], ConnAck)
    second = mem.connected(0)
    assert first.closed()
    assert not second.closed()
    counters = mem.broker.counters
    assert (counters.takeovers, counters.connections_current) == (1, 1)
    # MQTT-3.1.4-2: the older connection ended without DISCONNECT, so its will went out.
    assert mem.jobs.requests == [will.topic]
    second.send(Publish(topic=will.topic, payload=b"{}"))
    assert not second.closed()  # the new connection serves normally


def test_clean_disconnect_discards_the_will(mem: MemoryBroker) -> None:
    client = mem.client(0)
    client.send(_connect(mem, will=Will(topic=f"$aws/things/{mem.thing(0)}/jobs/get", payload=b"")))
    client.send(Disconnect())
    assert client.closed()
    assert mem.jobs.requests == []
    assert mem.broker.counters.connections_current == 0


def test_broken_connection_publishes_the_will(mem: MemoryBroker) -> None:
    watcher = mem.connected(1)
    watcher.subscribe(f"$aws/things/{mem.thing(1)}/jobs/notify")
    client = mem.client(0)
    client.send(_connect(mem, will=Will(topic=f"$aws/things/{mem.thing(0)}/jobs/get", payload=b"")))
    client.drop()
    assert mem.jobs.requests == [f"$aws/things/{mem.thing(0)}/jobs/get"]
    assert mem.broker.counters.connections_current == 1


def test_publish_to_own_jobs_topic_before_and_after_connect(mem: MemoryBroker) -> None:
    client = mem.client(0)
    client.send(Publish(topic=f"$aws/things/{mem.thing(0)}/jobs/get", payload=b"{}", qos=QoS(0)))
    assert client.closed()  # MQTT-3.1.0-1: CONNECT first
    assert mem.broker.counters.protocol_errors == 1
    assert mem.jobs.requests == []
