"""HTTPS devices poll the Jobs HTTPS API (as AWS recommends for devices that do not hold a
connection) and work the jobs an Operator rolls out.

    locust -f locustfiles/jobs_https.py --headless -u 101 -r 50 -t 2m \\
        --device-profile https-poller --stop-when-done

With --host, also give --jobs-host https://JOBS-ENDPOINT:8443 (AWS: the iot:Jobs endpoint).
"""

from simfleet.locust import HttpsDevice, Operator

__all__ = ["HttpsDevice", "Operator"]
