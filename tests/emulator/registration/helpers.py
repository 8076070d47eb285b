"""The emulator app in process (`Emulator`, real TLS on 127.0.0.1:0) on an event loop in a
background thread, boto3 clients of its control plane, paho-mqtt devices, and certificates AWS
would refuse, for the registration tests."""

from __future__ import annotations

import asyncio
import http.client
import queue
import ssl
import threading
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import boto3  # type: ignore[import-untyped]
import paho.mqtt.client as mqtt
from botocore.config import Config  # type: ignore[import-untyped]
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from paho.mqtt.enums import CallbackAPIVersion

from certs_tool import DeviceRecord, Fleet, load_authority
from simfleet.emulator.api_quotas import ApiQuotaConfig
from simfleet.emulator.app import Emulator
from simfleet.emulator.clock import Clock
from simfleet.emulator.config import EmulatorConfig
from simfleet.emulator.quotas import QuotaConfig

T = TypeVar("T")
TIMEOUT = 10.0


class Running:
    """One emulator: `Emulator(config)` built and started on its own loop thread."""

    def __init__(
        self,
        fleet: Fleet,
        state_dir: Path,
        *,
        register_fleet: bool = False,
        api_quotas: ApiQuotaConfig | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.fleet = fleet
        self._clients: list[Any] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        config = EmulatorConfig(
            fleet_dir=fleet.root,
            state_dir=state_dir,
            mqtt_port=0,
            jobs_port=0,
            register_fleet=register_fleet,
            # The data-plane quotas would refuse a test's quick reconnects (1 CONNECT/s).
            quotas=QuotaConfig.off(),
            api_quotas=api_quotas or ApiQuotaConfig(rates={}),
        )

        async def start() -> tuple[Emulator, dict[str, Any]]:
            emulator = Emulator(config, clock=clock)
            return emulator, await emulator.start()

        self.emulator, self.ready = self.run(start())

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=30)

    def call(self, function: Callable[[], T]) -> T:
        """`function()` on the loop thread, where the emulator's state lives."""

        async def run() -> T:
            return function()

        return self.run(run())

    def iot(self, **retries: Any) -> Any:
        """A boto3 `iot` client of this emulator; no retry unless `retries` says otherwise."""
        client = boto3.session.Session().client(
            "iot",
            endpoint_url=self.ready["api_url"],
            region_name=self.ready["region"],
            aws_access_key_id=self.ready["access_key_id"],
            aws_secret_access_key=self.ready["secret_access_key"],
            verify=self.ready["ca_file"],
            config=Config(retries=retries or {"total_max_attempts": 1}),
        )
        self._clients.append(client)
        return client

    def arn(self, kind: str, name: str) -> str:
        return f"arn:aws:iot:{self.ready['region']}:{self.ready['account_id']}:{kind}/{name}"

    def device(self, device: DeviceRecord) -> Device:
        """A paho device with `device`'s certificate and key from this fleet."""
        return self.client(
            self.fleet.cert_path(device), self.fleet.key_path(device), device.thing_name
        )

    def client(self, certificate: Path, key: Path, client_id: str) -> Device:
        """A paho device presenting `certificate`."""
        port = int(self.ready["mqtt_port"])
        return Device(certificate, key, client_id, port, self.fleet.ca_cert_path)

    def jobs_status(self, device: DeviceRecord) -> tuple[int, str | None]:
        """GetPendingJobExecutions over HTTPS with the device's certificate: (status, error)."""
        context = ssl.create_default_context(cafile=self.ready["ca_file"])
        context.load_cert_chain(self.fleet.cert_path(device), self.fleet.key_path(device))
        connection = http.client.HTTPSConnection(
            "localhost", int(self.ready["jobs_port"]), context=context, timeout=TIMEOUT
        )
        try:
            connection.request("GET", f"/things/{device.thing_name}/jobs")
            response = connection.getresponse()
            response.read()
            return response.status, response.getheader("x-amzn-ErrorType")
        finally:
            connection.close()

    def close(self) -> None:
        for client in self._clients:
            client.close()
        self.run(self.emulator.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=TIMEOUT)
        self._loop.close()


class Device:
    """One paho-mqtt device presenting its own certificate."""

    def __init__(
        self, certificate: Path, key: Path, client_id: str, port: int, ca_file: Path
    ) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_verify_locations(ca_file)
        context.load_cert_chain(certificate, key)
        self.connack: queue.Queue[int] = queue.Queue()
        self.disconnected = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv311,
            reconnect_on_failure=False,
        )
        self.client.tls_set_context(context)
        self.client.on_connect = lambda _c, _u, _f, reason, _p: self.connack.put(reason.value)
        self.client.on_disconnect = lambda *_: self.disconnected.set()
        self._port = port

    def connect(self) -> int | None:
        """The CONNACK return code, or None when the server closed without one."""
        self.client.connect("localhost", self._port, keepalive=60)  # SNI, as AWS requires
        self.client.loop_start()
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            try:
                return self.connack.get(timeout=0.02)
            except queue.Empty:
                if self.disconnected.is_set():  # closed: a CONNACK, if any, came first
                    return None if self.connack.empty() else self.connack.get()
        return None

    def stop(self) -> None:
        """Stop the network thread and close the socket, whatever state it is in."""
        self.client.loop_stop()
        sock = self.client.socket()
        if sock is not None:
            sock.close()

    def close(self) -> None:
        self.client.disconnect()
        self.stop()


def register_device(iot: Any, fleet: Fleet, device: DeviceRecord, *, with_ca: bool = True) -> str:
    """What `certs-tool register` does for one device (its CA and policies exist); the
    certificate ARN."""
    pem = fleet.cert_path(device).read_text()
    if with_ca:
        arn = iot.register_certificate(certificatePem=pem, status="ACTIVE")["certificateArn"]
    else:
        arn = iot.register_certificate_without_ca(certificatePem=pem, status="ACTIVE")[
            "certificateArn"
        ]
    iot.create_thing(thingName=device.thing_name)
    iot.attach_thing_principal(thingName=device.thing_name, principal=arn)
    for policy in device.policies:
        iot.attach_policy(policyName=policy, target=arn)
    return str(arn)


def create_fleet_policies(iot: Any, fleet: Fleet) -> None:
    for name, document in fleet.policy_documents():
        iot.create_policy(policyName=name, policyDocument=document.decode())


# --- certificates ---------------------------------------------------------------------------

NOW = datetime.now(UTC)
DAY = timedelta(days=1)


def pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def issue(
    fleet: Fleet,
    *,
    key: Any = None,
    not_before: datetime = NOW - DAY,
    not_after: datetime = NOW + DAY,
    algorithm: Any = None,
    name: str = "odd-device",
    ca: bool = False,
    issuer: tuple[x509.Certificate, Any] | None = None,
) -> x509.Certificate:
    """A certificate signed by the fleet CA (or `issuer`: (certificate, key)), with `key`'s
    public key (a new EC P-256 key by default), for client authentication."""
    if issuer is None:
        authority = load_authority(fleet.root, None)
        issuer = (authority.cert, authority.key)
    issuer_certificate, issuer_key = issuer
    public = (key or ec.generate_private_key(ec.SECP256R1())).public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(issuer_certificate.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    )
    return builder.sign(issuer_key, algorithm or hashes.SHA256())


def other_ca(name: str = "other CA") -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A self-signed CA that is not the fleet's."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - DAY)
        .not_valid_after(NOW + 30 * DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    return certificate, key


def write_credential(directory: Path, certificate: x509.Certificate, key: Any) -> tuple[Path, Path]:
    """The certificate and its (unencrypted) key as PEM files, for a paho device."""
    directory.mkdir(parents=True, exist_ok=True)
    certificate_path, key_path = directory / "device.pem", directory / "device.key"
    certificate_path.write_text(pem(certificate))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return certificate_path, key_path


def rsa_key(bits: int) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def ed25519_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()
