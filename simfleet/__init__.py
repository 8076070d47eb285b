"""simfleet: a load-testing fleet simulator for AWS IoT Jobs."""

__version__ = "0.1.0"
