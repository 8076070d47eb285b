"""A local AWS IoT Core: MQTT over mutual TLS, the IoT policy engine, the Jobs service and a
boto3-compatible control plane, run as its own process (`simfleet emulator`)."""
