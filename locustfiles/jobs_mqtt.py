"""MQTT devices work the jobs an Operator rolls out (one user is one device; -u counts the
Operator too).

    locust -f locustfiles/jobs_mqtt.py --headless -u 301 -r 100 -t 2m \\
        --device-profile fast --stop-when-done

With no --host the run mints its fleet and starts the emulator; with
--host mqtts://ENDPOINT:8883 --fleet-dir DIR --thing-group GROUP it targets that endpoint.
"""

from simfleet.locust import MqttDevice, Operator

__all__ = ["MqttDevice", "Operator"]
