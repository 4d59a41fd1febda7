"""The simulated world every vendor emulation draws from: seed, clock, scale and accounts.

Generated data is a pure function of the seed, the account and the day it belongs to; only the
values that move over time (statuses, growing figures, what is visible yet) also depend on
`World.today`. That keeps every run reproducible for a seed while any amount of data can be
asked for, day by day.
"""

from __future__ import annotations

import hashlib
import random
import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

DEFAULT_SCALE = 20


@dataclass(frozen=True)
class Account:
    """One CleverTap account of the world.

    Attributes:
        account_id: The value of the `X-CleverTap-Account-Id` header.
        timezone: IANA time zone name handed to the tap; the emulator's days are the account's
            local days.
        passcode: A fixed passcode, or None to derive one from the seed.
    """

    account_id: str
    timezone: str = "UTC"
    passcode: str | None = None


DEFAULT_ACCOUNTS = (
    Account("EMU-ACCT-0001", "UTC"),
    Account("EMU-ACCT-0002", "Asia/Kolkata"),
)


def default_today() -> date:
    """Return the default simulated date: yesterday in UTC.

    Returns:
        The real UTC date minus one day.
    """
    # Yesterday has ended in every time zone, so a tap whose end_date defaults to the real
    # today never asks the emulator about days after its own clock.
    return datetime.now(timezone.utc).date() - timedelta(days=1)


def seeded_rng(seed: int, *parts: object) -> random.Random:
    """Return a random generator that depends only on the seed and the given parts.

    Args:
        seed: The world's seed.
        *parts: What the numbers are for, e.g. a vendor, an account and a day.

    Returns:
        A `random.Random` seeded from a string, which Python hashes with SHA-512, so the
        sequence is the same in every process whatever PYTHONHASHSEED is.
    """
    return random.Random(":".join(str(part) for part in (seed, *parts)))  # noqa: S311


def derive_secret(seed: int, label: str) -> str:
    """Return a secret (passcode, API key) derived from the seed and a label.

    Args:
        seed: The world's seed.
        label: What the secret is for, e.g. an account id.

    Returns:
        `"emu-"` followed by 16 hex digits.
    """
    return "emu-" + hashlib.sha256(f"{seed}:{label}".encode()).hexdigest()[:16]


class World:
    """Seed, simulated clock, size and accounts, shared by the vendor emulations.

    Attributes:
        seed: Seed of every generated value.
        scale: Average number of records per account per day.
        accounts: The CleverTap accounts, in a fixed order.
    """

    def __init__(
        self,
        seed: int = 1,
        today: date | None = None,
        scale: int = DEFAULT_SCALE,
        accounts: Sequence[Account] | None = None,
    ) -> None:
        """Create a world.

        Args:
            seed: Seed of every generated value.
            today: The simulated current date; default `default_today()`.
            scale: Average number of records per account per day (0 gives empty days).
            accounts: CleverTap accounts; default two accounts, one in UTC and one in
                Asia/Kolkata.

        Raises:
            ValueError: If scale is negative or two accounts share an id.
        """
        if scale < 0:
            msg = f"scale must be >= 0, got {scale}"
            raise ValueError(msg)
        self.accounts: tuple[Account, ...] = tuple(
            DEFAULT_ACCOUNTS if accounts is None else accounts
        )
        if len({account.account_id for account in self.accounts}) != len(self.accounts):
            msg = "account ids must be unique"
            raise ValueError(msg)
        self.seed = seed
        self.scale = scale
        self._today = default_today() if today is None else today
        self._lock = threading.Lock()

    @property
    def today(self) -> date:
        """The simulated current date."""
        with self._lock:
            return self._today

    def advance(self, days: int = 1) -> date:
        """Move the simulated clock.

        Args:
            days: Days to move forward (negative moves back).

        Returns:
            The new simulated date.
        """
        with self._lock:
            self._today += timedelta(days=days)
            return self._today

    def secret(self, label: str) -> str:
        """Return the secret derived from the seed for a label.

        Args:
            label: What the secret is for.

        Returns:
            A stable secret string.
        """
        return derive_secret(self.seed, label)

    def passcode(self, account: Account) -> str:
        """Return an account's passcode.

        Args:
            account: One of the world's accounts.

        Returns:
            The fixed passcode if the account has one, else the one derived from the seed.
        """
        return account.passcode or self.secret(account.account_id)

    def account(self, account_id: str) -> Account | None:
        """Find an account by id.

        Args:
            account_id: The account id.

        Returns:
            The account, or None if the world has no such account.
        """
        return next((a for a in self.accounts if a.account_id == account_id), None)

    def account_index(self, account: Account) -> int:
        """Return the position of an account in `accounts`.

        Args:
            account: One of the world's accounts.

        Returns:
            Its index, which keeps generated ids of different accounts apart.
        """
        return self.accounts.index(account)
