"""The real `simfleet emulator` process, and a paho-mqtt device, for end-to-end tests."""

from __future__ import annotations

import json
import os
import queue
import signal
import ssl
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
import paho.mqtt.client as mqtt
from botocore.config import Config  # type: ignore[import-untyped]
from paho.mqtt.enums import CallbackAPIVersion

from certs_tool import DeviceRecord, Fleet

READY_TIMEOUT = 60.0


@dataclass
class EmulatorProcess:
    """`simfleet emulator` in a child process; `ready` is its parsed ready line."""

    fleet: Fleet
    state_dir: Path
    process: subprocess.Popen[str] = field(init=False)
    ready: dict[str, Any] = field(init=False)
    _clients: list[Any] = field(default_factory=list)

    def start(self, *extra: str) -> EmulatorProcess:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "simfleet.cli", "emulator", "--fleet", str(self.fleet.root),
             "--state-dir", str(self.state_dir), "--mqtt-port", "0", "--jobs-port", "0", *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        lines: queue.Queue[str] = queue.Queue()
        assert self.process.stdout is not None
        stdout = self.process.stdout
        threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
        try:
            line = lines.get(timeout=READY_TIMEOUT)
        except queue.Empty:
            self.kill()
            raise AssertionError("the emulator printed no ready line") from None
        if not line:
            _, err = self.process.communicate(timeout=10)
            raise AssertionError(f"the emulator exited before it was ready: {err}")
        self.ready = json.loads(line)
        return self

    def iot(self, *, access_key_id: str | None = None, secret_access_key: str | None = None) -> Any:
        """An unmodified boto3 IoT client pointed at the emulator (closed with it), signed with
        the ready line's administrator unless another key pair is given."""
        client = boto3.client(
            "iot",
            endpoint_url=self.ready["api_url"],
            region_name=self.ready["region"],
            aws_access_key_id=access_key_id or self.ready["access_key_id"],
            aws_secret_access_key=secret_access_key or self.ready["secret_access_key"],
            verify=self.ready["ca_file"],
            config=Config(retries={"total_max_attempts": 1}),
        )
        self._clients.append(client)
        return client

    def _close_clients(self) -> None:
        for client in self._clients:
            client.close()  # their keep-alive sockets, before the server goes
        self._clients.clear()

    def thing_arn(self, thing: str) -> str:
        return f"arn:aws:iot:{self.ready['region']}:{self.ready['account_id']}:thing/{thing}"

    def stop(self) -> tuple[int, str]:
        """SIGTERM, then the exit status and what it logged."""
        self._close_clients()
        self.process.send_signal(signal.SIGTERM)
        _, err = self.process.communicate(timeout=30)
        return self.process.returncode, err

    def kill(self) -> None:
        self._close_clients()
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.communicate(timeout=30)


class Device:
    """One device over paho-mqtt with its own certificate; received messages queue up."""

    def __init__(
        self,
        emulator: EmulatorProcess,
        device: DeviceRecord,
        *,
        client_id: str | None = None,
        fleet: Fleet | None = None,
    ) -> None:
        owner = fleet or emulator.fleet
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_verify_locations(emulator.fleet.ca_cert_path)
        context.load_cert_chain(owner.cert_path(device), owner.key_path(device))
        self.thing = device.thing_name
        self.messages: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
        self.disconnected = threading.Event()
        self.connack: queue.Queue[int] = queue.Queue()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or device.thing_name,
            protocol=mqtt.MQTTv311,
            reconnect_on_failure=False,
        )
        self.client.tls_set_context(context)
        self.client.on_message = self._on_message
        self.client.on_connect = lambda _c, _u, _f, reason, _p: self.connack.put(reason.value)
        self.client.on_disconnect = lambda *_: self.disconnected.set()
        self._port = int(emulator.ready["mqtt_port"])

    def _on_message(self, _client: Any, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        self.messages.put((message.topic, json.loads(message.payload)))

    def connect(self) -> int | None:
        """The CONNACK return code, or None when the server closed without one."""
        # "localhost" so that SNI is sent, as AWS requires (spec §5).
        self.client.connect("localhost", self._port, keepalive=60)
        self.client.loop_start()
        try:
            return self.connack.get(timeout=10)
        except queue.Empty:
            return None

    def subscribe(self, *filters: str) -> None:
        done = threading.Event()
        self.client.on_subscribe = lambda *_: done.set()
        self.client.subscribe([(f, 1) for f in filters])
        assert done.wait(10), "no SUBACK"

    def publish(self, suffix: str, payload: dict[str, Any]) -> None:
        """Publish to $aws/things/<thing>/jobs/<suffix>."""
        self.client.publish(f"$aws/things/{self.thing}/jobs/{suffix}", json.dumps(payload), qos=1)

    def expect(self, topic_suffix: str, timeout: float = 10.0) -> dict[str, Any]:
        """The next message on jobs/<topic_suffix>, skipping others."""
        wanted = f"$aws/things/{self.thing}/jobs/{topic_suffix}"
        while True:
            topic, payload = self.messages.get(timeout=timeout)
            if topic == wanted:
                return payload

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
