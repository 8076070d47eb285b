"""A mixed fleet, MQTT and HTTPS devices in equal numbers (change it with --config-users), while
the operator rolls jobs out at 100 things a minute (--rollout-max-per-minute changes it).

    locust -f locustfiles/fleet_rollout.py --headless -u 401 -r 100 -t 10m \\
        --job-count 3 --job-rate 1 --stop-when-done
"""

from simfleet.locust import HttpsDevice, MqttDevice, RolloutOperator

__all__ = ["HttpsDevice", "MqttDevice", "RolloutOperator"]
