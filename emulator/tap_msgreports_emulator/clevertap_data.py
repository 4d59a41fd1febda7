"""Generated CleverTap data: campaigns and messages of one account and one day.

A plan is what never changes about a campaign or message (id, name, schedule, daily figures).
What a request sees is the plan read at the simulated today: whether it exists yet, its status,
and its figures so far.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import TYPE_CHECKING, Any

from tap_msgreports_emulator.world import seeded_rng

if TYPE_CHECKING:
    import random

SECONDS_PER_DAY = 86_400
NOON = 12
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
THEMES = (
    "Welcome",
    "Cart Reminder",
    "Flash Sale",
    "Win Back",
    "Weekly Digest",
    "Price Drop",
    "Onboarding",
    "Re-engagement",
    "Birthday",
    "Feedback",
)
# (API value used in filters, display value in responses, weight)
CHANNELS = (
    ("push", "Push", 30),
    ("email", "Email", 20),
    ("sms", "SMS", 10),
    ("inapp", "InApp", 12),
    ("browser", "Browser", 6),
    ("webhooks", "Webhooks", 4),
    ("web_pop_up", "WebPopUp", 4),
    ("web_exit_intent", "WebExitIntent", 2),
    ("web_native_display", "WebNativeDisplay", 2),
    ("web_inbox", "WebInbox", 2),
    ("whatsapp", "WhatsApp", 4),
)
DELIVERIES = (
    ("one_time", "One time", 40),
    ("action", "Action", 15),
    ("inaction", "Inaction", 8),
    ("recurring", "Recurring", 15),
    ("api", "API", 15),
    ("property_time", "Property time", 4),
    ("multiple_dates", "Multiple dates", 3),
)
MESSAGE_TYPES = (("single", 80), ("ab", 15), ("message_on_user_property", 5))
LABELS = ("Onboarding", "Promo", "Retention", "Transactional", "Newsletter", "VIP")
CONVERSION_EVENTS = (None, None, "Charged", "App Launched", "Product Viewed", "Added To Cart")
DISPLAY = {api: display for api, display, _ in CHANNELS + DELIVERIES}
# Account-days kept in memory: a 92-day window of two accounts, read again by the next lookback,
# stays cached. About 2 KB per message: ~10 MB at the default scale, ~250 MB at scale 500.
CACHED_DAYS = 256
# Shares of campaigns that pause while running, and of campaigns and messages that end stopped.
PAUSE_RATE = 0.2
STOP_RATE = 0.15
# Share of messages whose start_date uses the long format with a year.
LONG_FORMAT_RATE = 0.5
MAX_CAMPAIGN_DAYS = 11
MAX_MESSAGE_DAYS = 21
# Most campaigns are created up to NEAR_LEAD_DAYS before their day; a share of them weeks
# ahead, up to MAX_CREATION_LEAD_DAYS: beyond one 31-day window, within a year's look-ahead.
NEAR_LEAD_DAYS = 5
FAR_AHEAD_RATE = 0.1
MAX_CREATION_LEAD_DAYS = 75


@dataclass(frozen=True, slots=True)
class Campaign:
    """A campaign of Get Campaigns, as planned.

    Attributes:
        account_id: Owning account.
        id: Campaign id, unique across accounts.
        name: Campaign name.
        day: Scheduled day, account-local.
        minute: Scheduled minute of that day.
        created: Day it appears in the list.
        ends: Last day it runs.
        pre_status: Status before its day (`scheduled` or `pending`).
        paused_from: Day from which it is paused until it ends, or None.
        stopped: Whether it ends stopped instead of completed.
    """

    account_id: str
    id: int
    name: str
    day: date
    minute: int
    created: date
    ends: date
    pre_status: str
    paused_from: date | None
    stopped: bool

    def status(self, today: date) -> str:
        """Return the campaign's status on a day.

        Args:
            today: The simulated current date.

        Returns:
            One of scheduled, pending, running, paused, stopped, completed.
        """
        if today < self.day:
            return self.pre_status
        if today > self.ends:
            return "stopped" if self.stopped else "completed"
        return "paused" if self.paused_from is not None and today >= self.paused_from else "running"

    @property
    def scheduled_on(self) -> int:
        """The schedule as the API sends it: integer YYYYMMDDHHMM, local time."""
        hour, minute = divmod(self.minute, 60)
        return int(f"{self.day:%Y%m%d}{hour:02d}{minute:02d}")

    def to_api(self, today: date) -> dict[str, Any]:
        """Return the campaign as one element of `targets`.

        Args:
            today: The simulated current date.

        Returns:
            The API object.
        """
        return {
            "id": self.id,
            "name": self.name,
            "scheduled_on": self.scheduled_on,
            "status": self.status(today),
        }

    def truth(self, today: date, zone: tzinfo) -> dict[str, Any]:
        """Return the record a correct tap holds for this campaign.

        Args:
            today: The simulated current date.
            zone: The account's time zone, in which `scheduled_on` is a wall time.

        Returns:
            The record, with `scheduled_at` the scheduled instant in UTC.
        """
        local = datetime.strptime(str(self.scheduled_on), "%Y%m%d%H%M").replace(tzinfo=zone)
        return {
            "account_id": self.account_id,
            **self.to_api(today),
            "scheduled_at": utc_text(local),
        }


@dataclass(frozen=True, slots=True)
class Message:
    """A message of Get Message Reports, as planned.

    Attributes:
        account_id: Owning account.
        id: Message id, unique across accounts.
        name: Message name.
        channel: Channel, API value (display value in responses).
        delivery: Delivery, API value (display value in responses).
        message_type: single, ab or message_on_user_property.
        labels: Campaign labels.
        device: Target platforms.
        conversion_event: Conversion event name, or None.
        day: Start day, account-local.
        minute: Start minute of that day.
        long_format: Whether `start_date` is `"18 Oct, 2023 16:08:00"` instead of
            `"Oct 18, 4:08 PM"`.
        stopped: Whether it ends stopped instead of completed.
        figures: (sent, viewed, clicked) of each day it runs, from its start day.
    """

    account_id: str
    id: int
    name: str
    channel: str
    delivery: str
    message_type: str
    labels: tuple[str, ...]
    device: tuple[str, ...]
    conversion_event: str | None
    day: date
    minute: int
    long_format: bool
    stopped: bool
    figures: tuple[tuple[int, int, int], ...]

    @property
    def ends(self) -> date:
        """The last day the message runs."""
        return self.day + timedelta(days=len(self.figures) - 1)

    def status(self, today: date) -> str:
        """Return the message's status on a day.

        Args:
            today: The simulated current date (on or after the start day).

        Returns:
            running, stopped or completed.
        """
        if today <= self.ends:
            return "running"
        return "stopped" if self.stopped else "completed"

    @property
    def start_date(self) -> str:
        """The start as the API displays it, in the message's format."""
        hour, minute = divmod(self.minute, 60)
        month = MONTHS[self.day.month - 1]
        if self.long_format:
            return f"{self.day.day:02d} {month}, {self.day.year} {hour:02d}:{minute:02d}:00"
        clock_hour = (hour % 12) or 12
        meridiem = "AM" if hour < NOON else "PM"
        return f"{month} {self.day.day}, {clock_hour}:{minute:02d} {meridiem}"

    def figures_until(self, today: date) -> list[tuple[date, int, int, int]]:
        """Return the daily figures of the days it has run so far.

        Args:
            today: The simulated current date.

        Returns:
            (day, sent, viewed, clicked) for each day from the start to min(today, end).
        """
        days_run = (today - self.day).days + 1
        return [
            (self.day + timedelta(days=offset), *figures)
            for offset, figures in enumerate(self.figures[: max(days_run, 0)])
        ]

    def totals(self, today: date) -> dict[str, int]:
        """Return sent, viewed and clicked summed over the days run so far.

        Args:
            today: The simulated current date.

        Returns:
            `{"sent": n, "viewed": n, "clicked": n}`.
        """
        so_far = self.figures_until(today)
        return {
            "sent": sum(day[1] for day in so_far),
            "viewed": sum(day[2] for day in so_far),
            "clicked": sum(day[3] for day in so_far),
        }

    def to_api(self, today: date, *, daily: bool) -> dict[str, Any]:
        """Return the message as one element of `messages`.

        Args:
            today: The simulated current date.
            daily: One `data` element per day (with `date`) instead of one aggregate.

        Returns:
            The API object, keys in the order of the vendor's example.
        """
        data = (
            [
                {"date": f"{day:%Y%m%d}", "sent": sent, "viewed": viewed, "clicked": clicked}
                for day, sent, viewed, clicked in self.figures_until(today)
            ]
            if daily
            else [self.totals(today)]
        )
        return {
            "message id": self.id,
            "data": data,
            "start_date": self.start_date,
            "device": list(self.device),
            "conversion_event": self.conversion_event,
            "labels": list(self.labels),
            "status": self.status(today),
            "channel": DISPLAY[self.channel],
            "message_name": self.name,
            "delivery": DISPLAY[self.delivery],
        }

    def truth(self, today: date, zone: tzinfo) -> dict[str, Any]:
        """Return the record a correct tap holds for this message.

        Args:
            today: The simulated current date.
            zone: The account's time zone, of the start day and minute.

        Returns:
            The record (totals as of today), with `started_at` the start instant in UTC.
        """
        hour, minute = divmod(self.minute, 60)
        started = datetime.combine(self.day, time(hour, minute), tzinfo=zone)
        return {
            "started_at": utc_text(started),
            "account_id": self.account_id,
            "message_id": self.id,
            "message_name": self.name,
            "channel": DISPLAY[self.channel],
            "delivery": DISPLAY[self.delivery],
            "status": self.status(today),
            "start_date": self.start_date,
            **self.totals(today),
        }


@dataclass(frozen=True, slots=True)
class AccountSlot:
    """What generation needs to know about an account besides the seed.

    Attributes:
        account_id: The account id.
        index: Its position among the world's accounts.
        count: How many accounts the world has.
    """

    account_id: str
    index: int
    count: int


@functools.lru_cache(maxsize=CACHED_DAYS)
def campaigns_of_day(seed: int, scale: int, slot: AccountSlot, day: date) -> tuple[Campaign, ...]:
    """Plan the campaigns scheduled on one account-local day.

    Args:
        seed: The world's seed.
        scale: Average campaigns per account per day.
        slot: The account.
        day: The scheduled day.

    Returns:
        The campaigns, created or not yet.
    """
    rng = seeded_rng(seed, "clevertap", "campaigns", slot.account_id, day)
    ids = _ids_of_day(rng, slot, day, rng.randint(0, 2 * scale))
    campaigns = []
    for number, campaign_id in enumerate(ids, start=1):
        duration = rng.randint(0, MAX_CAMPAIGN_DAYS - 1)
        paused_after = rng.randint(1, duration) if duration and rng.random() < PAUSE_RATE else None
        campaigns.append(
            Campaign(
                account_id=slot.account_id,
                id=campaign_id,
                name=f"{rng.choice(THEMES)} {MONTHS[day.month - 1]} {day.day} #{number}",
                day=day,
                minute=rng.randrange(24 * 60),
                created=_created(seed, slot, day, number, rng.randint(0, NEAR_LEAD_DAYS)),
                ends=day + timedelta(days=duration),
                pre_status=rng.choice(("scheduled", "pending")),
                paused_from=None if paused_after is None else day + timedelta(days=paused_after),
                stopped=rng.random() < STOP_RATE,
            )
        )
    return tuple(campaigns)


@functools.lru_cache(maxsize=CACHED_DAYS)
def messages_of_day(seed: int, scale: int, slot: AccountSlot, day: date) -> tuple[Message, ...]:
    """Plan the messages that start on one account-local day.

    Args:
        seed: The world's seed.
        scale: Average messages per account per day.
        slot: The account.
        day: The start day.

    Returns:
        The messages.
    """
    rng = seeded_rng(seed, "clevertap", "messages", slot.account_id, day)
    ids = _ids_of_day(rng, slot, day, rng.randint(0, 2 * scale))
    return tuple(_plan_message(rng, slot.account_id, message_id, day) for message_id in ids)


def _plan_message(rng: random.Random, account_id: str, message_id: int, day: date) -> Message:
    channel = _weighted(rng, CHANNELS)
    theme = rng.choice(THEMES).lower().replace(" ", "_").replace("-", "_")
    stopped = rng.random() < STOP_RATE
    days_run = rng.randint(1, MAX_MESSAGE_DAYS)
    return Message(
        account_id=account_id,
        id=message_id,
        name=f"{channel}_{theme}_{message_id % 10_000:04d}",
        channel=channel,
        delivery=_weighted(rng, DELIVERIES),
        message_type=rng.choices(
            [kind for kind, _ in MESSAGE_TYPES], [weight for _, weight in MESSAGE_TYPES]
        )[0],
        labels=tuple(rng.sample(LABELS, rng.randint(0, 2))),
        device=_devices(rng, channel),
        conversion_event=rng.choice(CONVERSION_EVENTS),
        day=day,
        minute=rng.randrange(24 * 60),
        long_format=rng.random() < LONG_FORMAT_RATE,
        stopped=stopped,
        # A stopped message ends early: fewer days of figures.
        figures=_daily_figures(rng, rng.randint(1, days_run) if stopped else days_run),
    )


def _created(seed: int, slot: AccountSlot, day: date, number: int, near_lead: int) -> date:
    """The day a campaign is created: `near_lead` days before its day, or weeks before.

    The far lead has its own generator, so that every other planned value stays as it was.
    """
    rng = seeded_rng(seed, "clevertap", "created", slot.account_id, day, number)
    far = rng.random() < FAR_AHEAD_RATE
    lead = rng.randint(NEAR_LEAD_DAYS + 1, MAX_CREATION_LEAD_DAYS) if far else near_lead
    return day - timedelta(days=lead)


def _ids_of_day(rng: random.Random, slot: AccountSlot, day: date, count: int) -> list[int]:
    """Draw ids that look like the vendor's (epoch seconds, ~10 digits) and never collide.

    Each id is the day's epoch second plus an offset below one day, and the offsets of an
    account are those congruent to its index modulo the number of accounts.
    """
    day_epoch = (day - date(1970, 1, 1)).days * SECONDS_PER_DAY
    offsets = rng.sample(
        range(SECONDS_PER_DAY // slot.count), min(count, SECONDS_PER_DAY // slot.count)
    )
    return [day_epoch + offset * slot.count + slot.index for offset in offsets]


def _weighted(rng: random.Random, choices: tuple[tuple[str, str, int], ...]) -> str:
    return str(rng.choices([api for api, _, _ in choices], [w for _, _, w in choices])[0])


def _devices(rng: random.Random, channel: str) -> tuple[str, ...]:
    if channel in {"push", "inapp"}:
        return tuple(rng.choice((("Android",), ("iOS",), ("Android", "iOS"))))
    if channel.startswith("web") or channel == "browser":
        return ("Web",)
    return ()


def _daily_figures(rng: random.Random, days: int) -> tuple[tuple[int, int, int], ...]:
    audience = rng.choice((0, 50, 500, 5_000, 50_000))
    figures = []
    for _ in range(days):
        sent = int(audience * rng.uniform(0.05, 1.0))
        viewed = int(sent * rng.uniform(0.1, 0.9))
        clicked = int(viewed * rng.uniform(0.0, 0.4))
        figures.append((sent, viewed, clicked))
    return tuple(figures)


def utc_text(moment: datetime) -> str:
    """An instant as the tap writes its parsed times: ISO-8601 in UTC."""
    return moment.astimezone(timezone.utc).isoformat()
