"""API emulators for the connector set's tests, demo and benchmarks."""

from emulators.base import Clock, Emulator, Fault, RequestLog

__all__ = ["Clock", "Emulator", "Fault", "RequestLog"]
