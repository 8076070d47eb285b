"""DeviceApi (sans-io) under arbitrary calls: it never raises, answers only statuses of the
spec's table (or 403/404 of ours), and a call that is not answered 200 changes nothing."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import given, settings
from hypothesis import strategies as st

from certs_tool import Fleet
from simfleet.emulator.clock import ManualClock
from simfleet.emulator.control_plane import ControlPlane
from simfleet.emulator.http import RequestCounters
from simfleet.emulator.jobs_http import DeviceApi, DeviceAuthorizers, DeviceCall
from simfleet.emulator.jobs_service import JobsService
from simfleet.emulator.policy import DenialCounter
from simfleet.emulator.registry import Registry
from simfleet.emulator.store import Store
from tests.emulator.jobs_http.helpers import ACCOUNT, DOCUMENT, REGION, thing_arn

STATUSES = {200, 400, 403, 404, 409, 410}

_segments = st.one_of(
    st.sampled_from(["things", "jobs", "$next", "%24next", "job-1", "job-2", "no-such-job", ""]),
    st.sampled_from(["OWN", "OTHER"]),
    st.text(max_size=12).map(lambda text: quote(text, safe="")),
)
_job_ids = st.one_of(
    st.sampled_from(["$next", "%24next", "job-1", "job-2", "no-such-job"]),
    st.text(max_size=8).map(lambda text: quote(text, safe="")),
)
_things = st.one_of(
    st.just("OWN"),
    st.just("OWN"),
    st.just("OWN"),
    st.just("OTHER"),
    st.text(max_size=8).map(lambda text: quote(text, safe="")),
)
_methods = st.sampled_from(["GET", "PUT", "POST", "DELETE", "PATCH", "post"])


def _jobs_path(thing: str, job_id: str | None) -> list[str]:
    return ["things", thing, "jobs", *([] if job_id is None else [job_id])]


# Mostly the four operations (on own, other or odd things and jobs), else any method and path.
_calls = st.one_of(
    st.tuples(st.just("GET"), st.builds(_jobs_path, _things, st.none())),
    st.tuples(st.just("PUT"), st.builds(_jobs_path, _things, st.just("$next"))),
    st.tuples(st.just("GET"), st.builds(_jobs_path, _things, _job_ids)),
    st.tuples(st.just("POST"), st.builds(_jobs_path, _things, _job_ids)),
    st.tuples(_methods, st.builds(_jobs_path, _things, st.one_of(st.none(), _job_ids))),
    st.tuples(_methods, st.lists(_segments, max_size=5)),
)
_queries = st.lists(
    st.tuples(
        st.sampled_from(["executionNumber", "includeJobDocument", "other"]),
        st.one_of(st.sampled_from(["1", "2", "true", "false", ""]), st.text(max_size=6)),
    ),
    max_size=3,
).map(lambda pairs: "&".join(f"{quote(k)}={quote(v)}" for k, v in pairs))
_members = st.fixed_dictionaries(
    {"status": st.sampled_from(["IN_PROGRESS", "IN_PROGRESS", "SUCCEEDED", "QUEUED", "bogus"])},
    optional={
        "expectedVersion": st.one_of(st.integers(-1, 5), st.sampled_from(["2", "x"])),
        "executionNumber": st.integers(0, 3),
        "statusDetails": st.dictionaries(
            st.one_of(st.sampled_from(["step", "progress"]), st.text(max_size=5)),
            st.one_of(st.sampled_from(["download", "50"]), st.text(max_size=5)),
            max_size=2,
        ),
        "stepTimeoutInMinutes": st.sampled_from([-2, -1, 0, 1, 30, 10080, 10081]),
        "includeJobExecutionState": st.booleans(),
    },
)
_json_bodies = _members.map(lambda members: json.dumps(members).encode())
_bodies = st.one_of(st.just(b""), _json_bodies, _json_bodies, st.binary(max_size=40))


def test_arbitrary_calls_are_answered_and_failures_change_nothing(
    shared_fleet: Fleet, tmp_path: Path
) -> None:
    clock = ManualClock()
    store = Store.open(tmp_path)
    published: list[tuple[str, bytes]] = []
    registry = Registry(store, clock=clock)
    registry.register_fleet(shared_fleet)
    jobs = JobsService(
        store, registry, clock, lambda topic, payload: published.append((topic, payload))
    )
    control = ControlPlane(registry, jobs, region=REGION, account_id=ACCOUNT, clock=clock)
    own, other = (device.thing_name for device in shared_fleet.devices[:2])
    for job_id in ("job-1", "job-2"):
        control.create_job(
            jobId=job_id, targets=[thing_arn(own), thing_arn(other)], document=json.dumps(DOCUMENT)
        )
    pem = shared_fleet.cert_path(shared_fleet.devices[0]).read_bytes()
    der = x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)
    authorizers = DeviceAuthorizers(
        registry, region=REGION, account_id=ACCOUNT, denials=DenialCounter(), max_entries=4
    )
    counters = RequestCounters()
    api = DeviceApi(
        jobs,
        authorizers,
        arn_prefix=f"arn:aws:iot:{REGION}:{ACCOUNT}:",
        max_body_bytes=64,
        counters=counters,
    )

    @settings(max_examples=200, deadline=None)
    @given(
        call=_calls,
        query=_queries,
        body=_bodies,
        oversized=st.sampled_from([False] * 9 + [True]),
    )
    def check(call: tuple[str, list[str]], query: str, body: bytes, oversized: bool) -> None:
        method, levels = call
        path = "/" + "/".join({"OWN": own, "OTHER": other}.get(level, level) for level in levels)
        target = f"{path}?{query}" if query else path
        before = (jobs.executions_for_thing(own), jobs.executions_for_thing(other))
        sent = len(published)
        answered = sum(counters.counts.values())

        answer = api.handle(
            DeviceCall(
                certificate_der=der,
                source_ip="127.0.0.1",
                method=method,
                target=target,
                body=b"" if oversized else body,
                oversized=oversized,
            )
        )

        assert answer.status in STATUSES, (answer.status, answer.body)
        assert sum(counters.counts.values()) == answered + 1
        if answer.status == 200:
            assert answer.outcome == "ok"
            json.loads(answer.body)
            return
        assert answer.headers["x-amzn-ErrorType"] == answer.outcome
        assert isinstance(json.loads(answer.body)["message"], str)
        assert (jobs.executions_for_thing(own), jobs.executions_for_thing(other)) == before
        assert len(published) == sent

    try:
        check()
    finally:
        store.close()
    # The device never reached the other thing's executions.
    assert all(record.version_number == 1 for record in jobs.executions_for_thing(other))
