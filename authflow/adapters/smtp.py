"""E-mail over SMTP: the transport `authflow serve --smtp URL` gives the outbox's sender.

Theory of operation: `SmtpSettings.parse(url)` reads the server from a URL —

    smtp://HOST[:PORT]                 plain SMTP (port 25; no TLS unless asked for, below)
    smtp://HOST[:PORT]?starttls=1      plain connection upgraded with STARTTLS (port 587)
    smtps://HOST[:PORT]                TLS from the first byte (port 465)

with `USER:PASSWORD@` in the URL (percent-encoded), or the user and password from
`AUTHFLOW_SMTP_USER` / `AUTHFLOW_SMTP_PASSWORD` when the URL names none; `?timeout=SECONDS`
(default 30); `?verify=0` skips the certificate check (a local test server's self-signed
certificate only). `str(settings)` never shows the password.

`SmtpTransport.send(message, message_id=...)` renders one `email.message.EmailMessage`
(`render`): To the message's destination, From `--mail-from`, Subject the pool's subject as
Cognito renders it, `Message-ID: <{outbox id}@authflow>` (the same on every resend of that
message), `Date`, and the body as text/plain — plus a text/html alternative when the
pool's template is HTML (Cognito sends e-mail templates as HTML: a body with tags is sent
both ways, the plain part with the tags taken out). One connection serves a whole drain;
the sender closes it when the outbox is empty, and any failure drops it, so the next
attempt reconnects.
"""

from __future__ import annotations

import html
import os
import re
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime
from urllib.parse import parse_qs, unquote, urlsplit

from authflow.core.effects import Message

USER_VARIABLE = "AUTHFLOW_SMTP_USER"
PASSWORD_VARIABLE = "AUTHFLOW_SMTP_PASSWORD"
#: The domain part of every Message-ID (the local part is the outbox entry's id).
MESSAGE_ID_DOMAIN = "authflow"

_TAG = re.compile(r"<[A-Za-z!/][^>]*>")
_BREAK = re.compile(r"<\s*(br|/p|/div|/tr|/h[1-6]|/li)\b[^>]*>", re.IGNORECASE)


class SmtpUrlError(ValueError):
    """The --smtp URL cannot be used; the message says why."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SmtpSettings:
    host: str
    port: int
    tls: str  # "none", "starttls" or "implicit"
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 30.0
    verify: bool = True

    @classmethod
    def parse(cls, url: str, environ: dict[str, str] | None = None) -> SmtpSettings:
        env = os.environ if environ is None else environ
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise SmtpUrlError(f"--smtp must be smtp://HOST[:PORT] or smtps://HOST[:PORT], not {parts.scheme}:...")
        if not parts.hostname:
            raise SmtpUrlError("--smtp names no host")
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        unknown = set(query) - {"starttls", "timeout", "verify"}
        if unknown:
            raise SmtpUrlError(f"--smtp: unknown option(s) {', '.join(sorted(unknown))} "
                               "(known: starttls, timeout, verify)")
        starttls = _flag(query.get("starttls", "0"), "starttls")
        if parts.scheme == "smtps" and starttls:
            raise SmtpUrlError("--smtp: smtps:// is TLS from the start; starttls=1 is for smtp://")
        tls = "implicit" if parts.scheme == "smtps" else "starttls" if starttls else "none"
        try:
            port = parts.port or {"implicit": 465, "starttls": 587, "none": 25}[tls]
            timeout = float(query.get("timeout", "30"))
        except ValueError as err:
            raise SmtpUrlError(f"--smtp: {err}") from None
        if not 0 < timeout <= 600:
            raise SmtpUrlError("--smtp: timeout must be between 0 and 600 seconds")
        user = unquote(parts.username) if parts.username else env.get(USER_VARIABLE) or None
        password = unquote(parts.password) if parts.password is not None else env.get(PASSWORD_VARIABLE) or None
        if password is not None and user is None:
            raise SmtpUrlError(f"--smtp: a password without a user (set {USER_VARIABLE} or user@ in the URL)")
        return cls(host=parts.hostname, port=port, tls=tls, user=user, password=password, timeout=timeout,
                   verify=_flag(query.get("verify", "1"), "verify"))

    def __str__(self) -> str:
        """The server as the banner shows it: no password."""
        scheme = "smtps" if self.tls == "implicit" else "smtp"
        who = f"{self.user}@" if self.user else ""
        extra = " with STARTTLS" if self.tls == "starttls" else ""
        auth = ", AUTH as that user" if self.user else ""
        check = ", certificate NOT checked" if not self.verify and self.tls != "none" else ""
        return f"{scheme}://{who}{self.host}:{self.port}{extra}{auth}{check}"


def _flag(value: str, name: str) -> bool:
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off", ""):
        return False
    raise SmtpUrlError(f"--smtp: {name} must be 1 or 0, not {value!r}")


def message_id(entry_id: str) -> str:
    return f"<{entry_id}@{MESSAGE_ID_DOMAIN}>"


def render(message: Message, *, message_id_of: str, mail_from: str, date) -> EmailMessage:
    """The e-mail for one outbox message (`date`: an aware datetime, the attempt's time)."""
    mail = EmailMessage()
    mail["From"] = mail_from
    mail["To"] = message.destination
    mail["Subject"] = message.subject or ""
    mail["Date"] = format_datetime(date)
    mail["Message-ID"] = message_id(message_id_of)
    if _TAG.search(message.body):
        mail.set_content(_plain(message.body))
        mail.add_alternative(message.body, subtype="html")
    else:
        mail.set_content(message.body)
    return mail


def _plain(body: str) -> str:
    return html.unescape(_TAG.sub("", _BREAK.sub("\n", body))).strip() + "\n"


class SmtpTransport:
    """Sends e-mail through one SMTP server (see the module's theory of operation)."""

    def __init__(self, settings: SmtpSettings, *, mail_from: str, clock) -> None:
        self.settings = settings
        self.mail_from = mail_from
        self.clock = clock  # the engine's `now` (Date headers), so tests can fix it
        self._smtp: smtplib.SMTP | None = None

    def send(self, message: Message, *, message_id: str) -> None:
        if message.medium != "EMAIL":
            raise ValueError(f"the SMTP transport sends EMAIL messages, not {message.medium}")
        mail = render(message, message_id_of=message_id, mail_from=self.mail_from, date=self.clock())
        try:
            self._connection().send_message(mail)
        except Exception:
            self.close()  # a broken or refused session: start afresh next time
            raise

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except Exception:
            smtp.close()

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is not None:
            try:
                if self._smtp.noop()[0] == 250:
                    return self._smtp
            except smtplib.SMTPException:
                pass
            except OSError:
                pass
            self.close()
        s = self.settings
        context = ssl.create_default_context()
        if not s.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if s.tls == "implicit":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=context)
        else:
            smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        try:
            if s.tls == "starttls":
                smtp.starttls(context=context)
            if s.user is not None:
                smtp.login(s.user, s.password or "")
        except Exception:
            smtp.close()
            raise
        self._smtp = smtp
        return smtp
