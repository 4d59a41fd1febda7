"""Generated Messangi data: the message log lines of one channel and one UTC day.

A line is planned once and whole: who sent what to whom and when, and the times at which its
status moves on. What a request sees is the plan read at the emulator's "now" (the end of the
simulated today): the last status reached by then and the time it was reached.

Every choice about what the data looks like, including the quirks that api-notes.md section 4
reports (int or string campaign ids, phone numbers with or without `+`, duplicate lines, null
Email content in pretty mode), is a constant at the top of this module.
"""

from __future__ import annotations

import functools
import hashlib
import string
from bisect import bisect_right
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from itertools import accumulate
from typing import TYPE_CHECKING, Any

from tap_msgreports_emulator.world import seeded_rng

if TYPE_CHECKING:
    import random

MS_PER_DAY = 86_400_000
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# S = SMS, E = Email, P = Push, W = WhatsApp, R = RCS; this order also breaks ties in `date`.
CHANNELS = ("S", "E", "P", "W", "R")
PHONE_CHANNELS = frozenset({"S", "W", "R"})
# Average lines per channel per day; a channel's weight scales it (they average 1) and each day
# draws its size within +-DAY_SIZE_JITTER of that.
DEFAULT_LINES_PER_DAY = 400
CHANNEL_WEIGHTS = {"S": 1.4, "E": 1.2, "P": 1.0, "W": 0.8, "R": 0.6}
DAY_SIZE_JITTER = 0.2
# Share of lines repeated at the same millisecond to the same recipient, from the same sender
# and campaign, with other content and status: the composite key is not unique.
DUPLICATE_RATE = 0.002
# A burst: a bulk campaign sends `burst_lines` lines of a channel within one second of each day
# (one sender, one campaign, many recipients); every BURST_TWIN_EVERY-th of them is a twin of an
# earlier one (same millisecond, recipient, sender and campaign). Off (0) unless asked for.
BURST_TWIN_EVERY = 20
# Every status path ends before this long after `date` (a tap re-reads 3 days).
FINAL_STATUS_WITHIN_MS = 3 * MS_PER_DAY - 1
# The first status follows the send by under a second (the vendor example shows ~26 ms).
FIRST_STATUS_MAX_DELAY_MS = 999
SENDERS = {
    "S": ("24273", "88500", "30333"),
    "E": ("news@emu-shop.example", "alerts@emu-shop.example"),
    "P": ("DemoApp", "EmuShopApp"),
    "W": ("58412", "5215550001"),
    "R": ("61e9bb8f4a01ea", "7c02d1e95b33f0"),
}
# Status paths per channel, with weights: each line follows one path from its first status.
STATUS_PATHS: dict[str, tuple[tuple[tuple[str, ...], int], ...]] = {
    "S": (
        (("QUEUE", "SENT", "DELIVERED"), 72),
        (("QUEUE", "SENT", "EXPIRED"), 10),
        (("QUEUE", "SENT"), 8),
        (("QUEUE", "SENT", "INVALID_ROUTING"), 4),
        (("QUEUE", "BLACKLISTED"), 3),
        (("QUEUE", "EXHAUSTED"), 3),
    ),
    "E": (
        (("SENT", "DELIVERED", "OPEN"), 45),
        (("SENT", "DELIVERED"), 45),
        (("SENT", "BOUNCED"), 10),
    ),
    "P": ((("SENT", "DELIVERED"), 85), (("SENT",), 15)),
    "W": (
        (("SENT", "DELIVERED", "READ"), 60),
        (("SENT", "DELIVERED"), 30),
        (("SENT", "FAILED"), 10),
    ),
    "R": (
        (("SENT", "DELIVERED", "READ"), 50),
        (("SENT", "DELIVERED"), 25),
        (("SENT", "FALLBACK"), 15),
        (("NOT_SENT",), 10),
    ),
}
# How long after the previous status each status comes, as (shortest, longest) milliseconds,
# drawn log-uniformly so that most transitions are quick and a few are slow.
STEP_DELAYS_MS = {
    "SENT": (1_000, 30_000),
    "DELIVERED": (1_000, 6 * 3_600_000),
    "OPEN": (60_000, 2 * MS_PER_DAY),
    "READ": (60_000, 2 * MS_PER_DAY),
    "EXPIRED": (MS_PER_DAY, 2 * MS_PER_DAY),
    "FALLBACK": (60_000, 6 * 3_600_000),
}
DEFAULT_STEP_DELAY_MS = (1_000, 60_000)
# Raw key `sd`: why a WhatsApp or RCS send failed, shown once the line has that status.
FAILURE_DESCRIPTIONS = {
    "W": {"FAILED": "131026: Message undeliverable"},
    "R": {
        "FALLBACK": "RCS not available for the recipient; sent as SMS",
        "NOT_SENT": "Agent not launched on the recipient's carrier",
    },
}
# Quirks of api-notes 4.5: share of phone lines shown without "+" in pretty mode (always "+"
# in raw mode), and shares of lines whose campaign id is a JSON integer in each mode.
PRETTY_PHONE_WITHOUT_PLUS = {"S": 0.05, "W": 0.9, "R": 0.0}
CAMPAIGN_ID_INT_PRETTY = {"W": 0.8}
CAMPAIGN_ID_INT_PRETTY_OTHERS = 0.1
CAMPAIGN_ID_INT_RAW = 0.1
# Mobile-originated (inbound, direction "I") share per channel; e-mail and push are outbound.
INBOUND_RATE = {"S": 0.04, "E": 0.0, "P": 0.0, "W": 0.08, "R": 0.03}
INBOUND_TEXTS = ("STOP", "YES", "INFO", "Thanks!", "When does it end?")
# The vendor's push example has null content in both modes: some pushes carry no text.
PUSH_WITHOUT_CONTENT_RATE = 0.3
# Share of outbound lines sent with a template (raw keys `v` and `w`).
TEMPLATE_RATE = {"W": 0.9, "R": 0.3}
SUBSCRIBERS = 5_000
SUBSCRIBER_ID_RATE = 0.4
USER_REF_RATE = 0.6
ALIAS_EMAIL_RATE = 0.2
CAMPAIGNS_PER_CHANNEL = 6
COUNTRY_CODES = ("52", "58", "57", "1")
FIRST_NAMES = (
    "Ana",
    "Luis",
    "Maria",
    "Jose",
    "Sofia",
    "Diego",
    "Elena",
    "Carlos",
    "Lucia",
    "Pablo",
)
LAST_NAMES = ("garcia", "lopez", "perez", "diaz", "torres", "rojas", "silva", "mendez")
PUSH_TOKEN_CHARACTERS = string.ascii_letters + string.digits + "_-"
PUSH_TOKEN_LENGTH = 22
# (name, text, e-mail subject) of the campaigns' messages.
THEMES = (
    ("welcome", "Welcome to EmuShop!", "Welcome aboard!"),
    ("promo", "New promo: 20% off everything today.", "New Promo!"),
    ("cart", "You left something in your cart.", "Your cart is waiting"),
    ("restock", "Your favourite item is back in stock.", "Back in stock"),
    ("survey", "Tell us how we did, it takes a minute.", "Quick survey"),
    ("coffee", "Hi! Welcome to the new Coffee Shop!", "The Coffee Shop is open"),
)
OWNERS = (("dev", "dev.team@emu-space.example"), ("crm", "crm.ops@emu-space.example"))
# Channel-days kept in memory: 40 days of every channel. About 0.5 KB per line, ~20 MB at the
# default size; a miss only costs regenerating the day.
CACHED_CHANNEL_DAYS = 40 * len(CHANNELS)


@dataclass(frozen=True, slots=True)
class Subscriber:
    """One recipient, with an address on every channel.

    Attributes:
        phone: E.164 phone number with `+`.
        email: E-mail address.
        push_token: Push token (the push `recipient`).
        platform: `A` (Android) or `I` (iOS) for push.
        first_name: Used in message texts.
        subscriber_id: The `subscriberid`, or None.
        user_ref: Raw key `m` (unique user identifier for reporting), or None.
        alias_email: Raw key `n` (extra e-mail address, Email only), or None.
    """

    phone: str
    email: str
    push_token: str
    platform: str
    first_name: str
    subscriber_id: str | None
    user_ref: str | None
    alias_email: str | None


@dataclass(frozen=True, slots=True)
class Sender:
    """A sending identity of a channel.

    Attributes:
        name: The `sender` value: short code, e-mail address, app name, number or agent id.
        connector_id: Raw key `o`, a hex id of the connector it sends through.
    """

    name: str
    connector_id: str


@dataclass(frozen=True, slots=True)
class MlogCampaign:
    """A campaign that lines belong to.

    Attributes:
        id: Campaign id (sent as an int or a string, see `MlogLine`).
        theme: (name, text, e-mail subject) of its messages.
        owner: Raw key `g`, the owner of the transaction.
        owner_user: Raw key `h`, a user of the owner.
    """

    id: int
    theme: tuple[str, str, str]
    owner: str
    owner_user: str

    @property
    def template_id(self) -> str:
        """Raw key `v` when the line uses a template."""
        return f"tpl_{self.theme[0]}_{self.id % 100:02d}"


@dataclass(frozen=True, slots=True)
class MlogLine:
    """One message log line, as planned.

    Attributes:
        channel: `S`, `E`, `P`, `W` or `R`.
        sender: Who sent it.
        date_ms: When it was sent, epoch milliseconds UTC.
        subscriber: Who it went to (or came from, when inbound).
        campaign: Its campaign.
        path: Its statuses, in order.
        step_ms: When each status of `path` is reached, epoch milliseconds, non-decreasing.
        inbound: Direction `I` (mobile originated) instead of `O`.
        code: Varies the text, so that duplicate lines differ in content.
        has_content: False for the pushes sent without text.
        pretty_without_plus: The pretty `recipient` drops the phone number's `+`.
        campaignid_int_pretty: The pretty `campaignid` is a JSON integer, not a string.
        campaignid_int_raw: The raw `i` is a JSON integer, not a string.
        uses_template: Sent with a template (raw `v` and `w`).
    """

    channel: str
    sender: Sender
    date_ms: int
    subscriber: Subscriber
    campaign: MlogCampaign
    path: tuple[str, ...]
    step_ms: tuple[int, ...]
    inbound: bool
    code: int
    has_content: bool
    pretty_without_plus: bool
    campaignid_int_pretty: bool
    campaignid_int_raw: bool
    uses_template: bool

    def status_at(self, now_ms: int) -> tuple[str, int]:
        """Return the status reached by a moment and when it was reached.

        Args:
            now_ms: The moment, epoch milliseconds (the first status is always reached by the
                end of the line's day).

        Returns:
            (status, epoch milliseconds of the change).
        """
        index = max(bisect_right(self.step_ms, now_ms), 1) - 1
        return self.path[index], self.step_ms[index]

    @property
    def recipient(self) -> str:
        """The recipient as raw mode shows it: phone with `+`, e-mail or push token."""
        if self.channel in PHONE_CHANNELS:
            return self.subscriber.phone
        if self.channel == "E":
            return self.subscriber.email
        return self.subscriber.push_token

    @property
    def pretty_recipient(self) -> str:
        """The recipient as pretty mode shows it (some phone numbers lose their `+`)."""
        return self.recipient.removeprefix("+") if self.pretty_without_plus else self.recipient

    @property
    def campaignid(self) -> str:
        """The campaign id as a string, as a correct tap holds it."""
        return str(self.campaign.id)

    @property
    def key(self) -> tuple[str, str, str, int, str]:
        """(channel, sender, pretty recipient, date, campaign id): unique but for duplicates."""
        return (
            self.channel,
            self.sender.name,
            self.pretty_recipient,
            self.date_ms,
            self.campaignid,
        )

    @property
    def text(self) -> str | None:
        """The message text, which raw mode always shows (None for a push without text)."""
        if self.inbound:
            return INBOUND_TEXTS[self.code % len(INBOUND_TEXTS)]
        if not self.has_content:
            return None
        prefix = "EmuShop: " if self.channel == "S" else ""
        greeting = f"Hi {self.subscriber.first_name}! " if self.channel != "E" else ""
        return f"{prefix}{greeting}{self.campaign.theme[1]} Ref {self.code:04d}"

    def pretty(self, now_ms: int) -> dict[str, Any]:
        """Return the line as an item of a `pretty=true` response.

        Args:
            now_ms: The emulator's now, epoch milliseconds.

        Returns:
            The item, keys in the vendor example's order.
        """
        status, status_ms = self.status_at(now_ms)
        return {
            "channel": self.channel,
            "sender": self.sender.name,
            "recipient": self.pretty_recipient,
            "date": iso_ms(self.date_ms),
            "campaignid": self.campaign.id if self.campaignid_int_pretty else self.campaignid,
            "status": status,
            "statusdate": iso_ms(status_ms),
            # The vendor never shows e-mail content in pretty mode.
            "content": None if self.channel == "E" else self.text,
            "platform": self.subscriber.platform if self.channel == "P" else None,
            "subject": self.campaign.theme[2] if self.channel == "E" else None,
            "direction": "I" if self.inbound else "O",
            "subscriberid": self.subscriber.subscriber_id,
        }

    def raw(self, now_ms: int) -> dict[str, Any]:
        """Return the line as an item of a `pretty=false` response (single-letter keys).

        Args:
            now_ms: The emulator's now, epoch milliseconds.

        Returns:
            The item with keys a..w (there is no `q`) and `sd`.
        """
        status, status_ms = self.status_at(now_ms)
        template = self.uses_template and not self.inbound
        return {
            "a": self.channel,
            "b": self.sender.name,
            "c": self.recipient,
            "d": iso_ms(self.date_ms),
            "e": self.subscriber.email if self.channel == "E" else None,
            "f": self.subscriber.phone if self.channel in PHONE_CHANNELS else None,
            "g": self.campaign.owner,
            "h": self.campaign.owner_user,
            "i": self.campaign.id if self.campaignid_int_raw else self.campaignid,
            "j": status,
            "k": iso_ms(status_ms),
            "l": self.text,
            "m": self.subscriber.user_ref,
            "n": self.subscriber.alias_email if self.channel == "E" else None,
            "o": self.sender.connector_id,
            # The vendor's example puts the app name here for push too, not only the RCS agent.
            "p": self.sender.name if self.channel in {"P", "R"} else None,
            "r": self.subscriber.platform if self.channel == "P" else None,
            "s": self.campaign.theme[2] if self.channel == "E" else None,
            "t": "I" if self.inbound else "O",
            "u": self.subscriber.subscriber_id,
            "v": self.campaign.template_id if template else None,
            "w": [self.subscriber.first_name, f"{self.code:04d}"] if template else None,
            "sd": FAILURE_DESCRIPTIONS.get(self.channel, {}).get(status),
        }

    def truth(self, now_ms: int) -> dict[str, Any]:
        """Return the record a correct tap holds for this line.

        Args:
            now_ms: The emulator's now, epoch milliseconds.

        Returns:
            channel, sender, recipient (as pretty mode shows it), date, campaignid (a
            string), status and statusdate.
        """
        status, status_ms = self.status_at(now_ms)
        return {
            "channel": self.channel,
            "sender": self.sender.name,
            "recipient": self.pretty_recipient,
            "date": iso_ms(self.date_ms),
            "campaignid": self.campaignid,
            "status": status,
            "statusdate": iso_ms(status_ms),
        }


@dataclass(frozen=True, slots=True)
class ChannelDay:
    """The lines of one channel and one UTC day, sorted by `date`.

    Attributes:
        lines: The lines.
        dates: Their `date_ms`, for bisecting.
    """

    lines: tuple[MlogLine, ...]
    dates: tuple[int, ...]


def iso_ms(epoch_ms: int) -> str:
    """Format epoch milliseconds the way the vendor does.

    Args:
        epoch_ms: Milliseconds since the epoch, UTC.

    Returns:
        e.g. `2023-07-28T13:46:51.144Z`.
    """
    moment = EPOCH + timedelta(milliseconds=epoch_ms)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{epoch_ms % 1000:03d}Z"


def day_start_ms(day: date) -> int:
    """Return the first millisecond of a UTC day.

    Args:
        day: The day.

    Returns:
        Epoch milliseconds of its midnight.
    """
    return (day - EPOCH.date()).days * MS_PER_DAY


@functools.lru_cache(maxsize=16 * CACHED_CHANNEL_DAYS)
def day_size(
    seed: int, lines_per_day: int, channel: str, day: date, burst_lines: int = 0
) -> tuple[int, int, int]:
    """Return how many lines a channel-day has, without planning them.

    Args:
        seed: The world's seed.
        lines_per_day: Average lines per channel per day.
        channel: The channel.
        day: The UTC day.
        burst_lines: Lines of the day's burst (0: no burst).

    Returns:
        (distinct lines, duplicates of them, burst lines); `lines_of_day` holds their sum.
    """
    rng = seeded_rng(seed, "messangi", "size", channel, day)
    mean = lines_per_day * CHANNEL_WEIGHTS[channel]
    distinct = round(mean * rng.uniform(1 - DAY_SIZE_JITTER, 1 + DAY_SIZE_JITTER))
    duplicates = sum(rng.random() < DUPLICATE_RATE for _ in range(distinct))
    return distinct, duplicates, burst_lines


@functools.lru_cache(maxsize=CACHED_CHANNEL_DAYS)
def lines_of_day(
    seed: int, lines_per_day: int, channel: str, day: date, burst_lines: int = 0
) -> ChannelDay:
    """Plan the lines of one channel sent on one UTC day.

    Args:
        seed: The world's seed.
        lines_per_day: Average lines per channel per day.
        channel: The channel.
        day: The UTC day.
        burst_lines: Lines of the day's burst, all within one second (0: no burst).

    Returns:
        The lines, sorted by `date` (generation order among equal dates).
    """
    distinct, duplicates, _ = day_size(seed, lines_per_day, channel, day)
    rng = seeded_rng(seed, "messangi", "lines", channel, day)
    pools = _pools(seed, channel)
    first_ms = day_start_ms(day)
    lines = [
        _plan_line(rng, pools, channel, first_ms + rng.randrange(MS_PER_DAY))
        for _ in range(distinct)
    ]
    lines += [_duplicate(rng, pools, lines[rng.randrange(distinct)]) for _ in range(duplicates)]
    lines += _burst(seed, pools, channel, day, burst_lines)
    lines.sort(key=lambda line: line.date_ms)
    return ChannelDay(tuple(lines), tuple(line.date_ms for line in lines))


@dataclass(frozen=True, slots=True)
class _Pools:
    subscribers: tuple[Subscriber, ...]
    senders: tuple[Sender, ...]
    campaigns: tuple[MlogCampaign, ...]
    paths: tuple[tuple[str, ...], ...]
    path_weights: tuple[int, ...]


@functools.lru_cache(maxsize=8 * len(CHANNELS))
def _pools(seed: int, channel: str) -> _Pools:
    paths = STATUS_PATHS[channel]
    return _Pools(
        subscribers=_subscribers(seed),
        senders=tuple(
            Sender(name, _hex(seed, "connector", channel, name)[:24]) for name in SENDERS[channel]
        ),
        campaigns=_campaigns(seed)[channel],
        paths=tuple(path for path, _ in paths),
        path_weights=tuple(accumulate(weight for _, weight in paths)),
    )


@functools.lru_cache(maxsize=8)
def _subscribers(seed: int) -> tuple[Subscriber, ...]:
    rng = seeded_rng(seed, "messangi", "subscribers")
    return tuple(_subscriber(rng, number) for number in range(SUBSCRIBERS))


def _subscriber(rng: random.Random, number: int) -> Subscriber:
    first = rng.choice(FIRST_NAMES)
    email = f"{first.lower()}.{rng.choice(LAST_NAMES)}{number}@mail.example"
    return Subscriber(
        phone=f"+{rng.choice(COUNTRY_CODES)}{rng.randrange(10**9, 10**10)}",
        email=email,
        push_token="".join(rng.choices(PUSH_TOKEN_CHARACTERS, k=PUSH_TOKEN_LENGTH)),
        platform=rng.choice("AI"),
        first_name=first,
        subscriber_id=f"{rng.getrandbits(96):024x}" if rng.random() < SUBSCRIBER_ID_RATE else None,
        user_ref=f"usr-{number:06d}" if rng.random() < USER_REF_RATE else None,
        alias_email=(email.replace("@", "+alias@") if rng.random() < ALIAS_EMAIL_RATE else None),
    )


@functools.lru_cache(maxsize=8)
def _campaigns(seed: int) -> dict[str, tuple[MlogCampaign, ...]]:
    rng = seeded_rng(seed, "messangi", "campaigns")
    # Five-digit ids like the vendor's examples, distinct across channels.
    ids = iter(rng.sample(range(10_000, 100_000), CAMPAIGNS_PER_CHANNEL * len(CHANNELS)))
    campaigns = {}
    for channel in CHANNELS:
        owners = [rng.choice(OWNERS) for _ in range(CAMPAIGNS_PER_CHANNEL)]
        campaigns[channel] = tuple(
            MlogCampaign(next(ids), rng.choice(THEMES), owner, user) for owner, user in owners
        )
    return campaigns


def _burst(seed: int, pools: _Pools, channel: str, day: date, size: int) -> list[MlogLine]:
    """Return the day's burst: `size` lines of one sender and campaign within one second."""
    if not size:
        return []
    rng = seeded_rng(seed, "messangi", "burst", channel, day)
    second_ms = day_start_ms(day) + rng.randrange(MS_PER_DAY // 1000) * 1000
    sender, campaign = rng.choice(pools.senders), rng.choice(pools.campaigns)
    burst: list[MlogLine] = []
    for number in range(size):
        if number and number % BURST_TWIN_EVERY == 0:
            burst.append(_duplicate(rng, pools, burst[rng.randrange(number)]))
            continue
        line = _plan_line(rng, pools, channel, second_ms + rng.randrange(1000))
        burst.append(replace(line, sender=sender, campaign=campaign))
    return burst


def _plan_line(rng: random.Random, pools: _Pools, channel: str, date_ms: int) -> MlogLine:
    path = _status_path(rng, pools)
    return MlogLine(
        channel=channel,
        sender=rng.choice(pools.senders),
        date_ms=date_ms,
        subscriber=rng.choice(pools.subscribers),
        campaign=rng.choice(pools.campaigns),
        path=path,
        step_ms=_step_times(rng, path, date_ms),
        inbound=rng.random() < INBOUND_RATE[channel],
        code=rng.randrange(10_000),
        has_content=channel != "P" or rng.random() >= PUSH_WITHOUT_CONTENT_RATE,
        pretty_without_plus=rng.random() < PRETTY_PHONE_WITHOUT_PLUS.get(channel, 0.0),
        campaignid_int_pretty=rng.random()
        < CAMPAIGN_ID_INT_PRETTY.get(channel, CAMPAIGN_ID_INT_PRETTY_OTHERS),
        campaignid_int_raw=rng.random() < CAMPAIGN_ID_INT_RAW,
        uses_template=rng.random() < TEMPLATE_RATE.get(channel, 0.0),
    )


def _duplicate(rng: random.Random, pools: _Pools, line: MlogLine) -> MlogLine:
    """Return a second message sent at the same millisecond: other text, its own statuses."""
    path = _status_path(rng, pools)
    return replace(
        line,
        path=path,
        step_ms=_step_times(rng, path, line.date_ms),
        # A different remainder modulo len(INBOUND_TEXTS) changes inbound texts too.
        code=line.code + rng.randint(1, len(INBOUND_TEXTS) - 1),
        has_content=True,
    )


def _status_path(rng: random.Random, pools: _Pools) -> tuple[str, ...]:
    return rng.choices(pools.paths, cum_weights=pools.path_weights)[0]


def _step_times(rng: random.Random, path: tuple[str, ...], date_ms: int) -> tuple[int, ...]:
    # The first status is reached within the line's own day, so every line that exists has one.
    last_of_day = date_ms - date_ms % MS_PER_DAY + MS_PER_DAY - 1
    latest = date_ms + FINAL_STATUS_WITHIN_MS
    at = min(date_ms + rng.randint(0, FIRST_STATUS_MAX_DELAY_MS), last_of_day)
    times = [at]
    for status in path[1:]:
        shortest, longest = STEP_DELAYS_MS.get(status, DEFAULT_STEP_DELAY_MS)
        at = min(at + round(shortest * (longest / shortest) ** rng.random()), latest)
        times.append(at)
    return tuple(times)


def _hex(seed: int, *parts: object) -> str:
    return hashlib.sha256(":".join(str(part) for part in (seed, *parts)).encode()).hexdigest()
