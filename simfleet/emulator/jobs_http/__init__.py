"""The Jobs HTTPS API (`iot-jobs-data`, 2017-09-29; spec §2) on its own port.

    server = JobsHttpServer(
        jobs=jobs_service, principals=registry,
        credentials={access_key_id: secret_access_key},
        certificate=fleet.server_cert_path, private_key=fleet.server_key_path,
        ca_file=fleet.ca_cert_path,
        config=JobsHttpConfig(region=..., account_id=...), clock=clock,
    )
    jobs_port = await server.start(host, port)      # 0 picks a free port
    ...
    await server.close()

Devices call with their client certificate (mutual TLS, AWS's 8443) and are authorized by
their IoT Core policies (`device_api`); callers without a certificate sign with SigV4 for
`iot-jobs-data` (an unmodified boto3 client works) and pass the `authorize` seam, which allows
every known key until IAM policies are evaluated (`sigv4_api`). Both reach the same Jobs core
(`JobsService.handle_request`), so an execution started here can finish over MQTT.

Errors (errors.py): answers to clients are AWS errors; this package raises only

    JobsHttpError
    └── ServerStateError (RuntimeError)
"""

from simfleet.emulator.jobs_http.config import JobsHttpConfig
from simfleet.emulator.jobs_http.counters import JobsHttpCounters
from simfleet.emulator.jobs_http.device_api import DeviceApi, DeviceCall
from simfleet.emulator.jobs_http.devices import DeviceAuthorizers
from simfleet.emulator.jobs_http.errors import JobsHttpError, ServerStateError
from simfleet.emulator.jobs_http.ports import (
    Authorize,
    JobsHandler,
    PrincipalSource,
    allow_every_caller,
)
from simfleet.emulator.jobs_http.server import JobsHttpServer
from simfleet.emulator.jobs_http.sigv4_api import JobsDataTarget, SigV4JobsApi
from simfleet.emulator.jobs_http.tls import SlimTlsSite, jobs_ssl_context

__all__ = [
    "Authorize",
    "DeviceApi",
    "DeviceAuthorizers",
    "DeviceCall",
    "JobsDataTarget",
    "JobsHandler",
    "JobsHttpConfig",
    "JobsHttpCounters",
    "JobsHttpError",
    "JobsHttpServer",
    "PrincipalSource",
    "ServerStateError",
    "SigV4JobsApi",
    "SlimTlsSite",
    "allow_every_caller",
    "jobs_ssl_context",
]
