"""A loopback server that behaves like the vendor APIs the tap reads, for tests and demos.

Typical use::

    from tap_msgreports_emulator import EmulatorServer, World

    with EmulatorServer(World(seed=7, scale=5)) as server:
        config = server.tap_config()  # point the tap at server.url
"""

from tap_msgreports_emulator.clevertap import CleverTapAPI
from tap_msgreports_emulator.faults import FAULT_KINDS, FaultPlan
from tap_msgreports_emulator.messangi import MessangiAPI
from tap_msgreports_emulator.moengage import MoEngageAPI
from tap_msgreports_emulator.server import EmulatorServer, LoggedRequest
from tap_msgreports_emulator.vendor import Reply, Request, Response, VendorAPI
from tap_msgreports_emulator.world import Account, World

__all__ = [
    "FAULT_KINDS",
    "Account",
    "CleverTapAPI",
    "EmulatorServer",
    "FaultPlan",
    "LoggedRequest",
    "MessangiAPI",
    "MoEngageAPI",
    "Reply",
    "Request",
    "Response",
    "VendorAPI",
    "World",
]
