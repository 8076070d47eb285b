"""`describe_endpoints`: the account's device endpoints, and the locust options that use them.

MQTT devices connect to the Data-ATS endpoint on 8883; HTTPS Jobs devices to the Jobs endpoint
(DescribeEndpoint iot:Jobs, `<prefix>.jobs.iot.<region>.amazonaws.com`), with their certificate
on 8443, not to the Data-ATS one (spec §2, §5). Both present Amazon Trust Services server
certificates, which AmazonRootCA1.pem verifies.
"""

from __future__ import annotations

from dataclasses import dataclass

from certs_tool.aws.caller import IotCaller

MQTT_PORT = 8883
JOBS_PORT = 8443
AMAZON_ROOT_CA = "AmazonRootCA1.pem"  # https://www.amazontrust.com/repository/AmazonRootCA1.pem


@dataclass(frozen=True, kw_only=True)
class Endpoints:
    region: str
    data_ats: str  # host name
    jobs: str  # host name

    def locust_options(self) -> str:
        return (
            f"--host mqtts://{self.data_ats}:{MQTT_PORT} --jobs-host https://{self.jobs}:{JOBS_PORT}"
            f" --ca-file {AMAZON_ROOT_CA} --region {self.region}"
        )


def describe_endpoints(caller: IotCaller) -> Endpoints:
    """DescribeEndpoint for iot:Data-ATS and iot:Jobs."""
    addresses = [
        str(caller.call("DescribeEndpoint", endpointType=kind)["endpointAddress"])
        for kind in ("iot:Data-ATS", "iot:Jobs")
    ]
    return Endpoints(region=caller.region, data_ats=addresses[0], jobs=addresses[1])
