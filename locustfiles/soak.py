"""The nightly soak: MQTT devices ramp up, hold for --soak-hold while the Operator rolls out a
wave of jobs every --soak-wave-period, and a disconnect storm drops --soak-storm-fraction of
them in the middle; the run reports the memory slope of Locust and the emulator over the hold.
-u counts the Operator too; -r is the ramp's spawn rate (docs/scale-out.md, "The soak").

    locust -f locustfiles/soak.py --headless -u 1001 -r 50 --device-profile fast \\
        --soak-hold 30m --soak-wave-period 5m --stop-when-done
"""

from simfleet.locust.soak import MqttDevice, SoakOperator, SoakShape

__all__ = ["MqttDevice", "SoakOperator", "SoakShape"]
