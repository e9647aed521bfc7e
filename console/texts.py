"""Every text the console shows, in Danish (the default) and English: one catalogue.

``Catalogue(lang)("key", **values)`` gives a page text; ``.reason(code)`` a service's stable
reason code in words (:mod:`console.reason_texts`); ``.dkk`` / ``.when`` format money (integer
øre) and instants the way the language writes them. A key missing in a language is a test
failure (tests/unit/console), never a blank on a page.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from console.reason_texts import REASONS

LANGUAGES = ("da", "en")
ZONE = ZoneInfo("Europe/Copenhagen")

TEXTS: dict[str, tuple[str, str]] = {
    # -- frame ------------------------------------------------------------------------------
    "app.title": ("Puljekonsollen", "The grants console"),
    "app.skip": ("Spring til indhold", "Skip to content"),
    "app.nav": ("Hovedmenu", "Main menu"),
    "app.language": ("Sprog", "Language"),
    "app.switch_language": ("English", "Dansk"),
    "app.signed_in_as": ("Logget ind som {subject} ({roles})", "Signed in as {subject} ({roles})"),
    "app.sign_out": ("Log ud", "Sign out"),
    "app.sign_in": ("Log ind", "Sign in"),
    "app.footer": ("Data kommer fra tjenesternes API'er; hver handling afgøres af tjenesten.",
                   "Data comes from the services' APIs; every action is decided by the service."),
    "nav.pools": ("Puljer", "Pools"),
    "nav.exceptions": ("IT-nedbrud", "IT problems"),
    "nav.audit": ("Revision", "Audit"),
    "nav.payments": ("Udbetalinger", "Payments"),
    "role.applicant": ("ansøger", "applicant"),
    "role.caseworker": ("sagsbehandler", "caseworker"),
    "role.assessor": ("bedømmer", "assessor"),
    "role.approver": ("godkender", "approver"),
    "role.finance": ("økonomi", "finance"),
    "role.auditor": ("revisor", "auditor"),
    "role.system": ("systemet", "the system"),
    "flash.ok": ("Udført", "Done"),
    "flash.error": ("Afvist", "Refused"),
    "refused": ("{service} afviste: {reason}", "{service} refused: {reason}"),
    "service.intake": ("Modtagelsen", "Intake"),
    "service.assessment": ("Bedømmelsen", "Assessment"),
    "service.payments": ("Udbetalingen", "Payments"),
    "service.reporting": ("Afrapporteringen", "Reporting"),
    "service.console": ("Konsollen", "The console"),
    "error.title": ("Siden kan ikke vises", "The page cannot be shown"),
    "error.csrf": ("Formularen var udløbet eller ikke fra denne side. Prøv igen.",
                   "The form had expired or did not come from this page. Try again."),
    "error.back": ("Til forsiden", "To the front page"),
    "common.none": ("ingen", "none"),
    "common.yes": ("ja", "yes"),
    "common.no": ("nej", "no"),
    "common.show": ("Vis", "Show"),
    "common.total": ("I alt", "Total"),
    "common.status": ("Status", "Status"),
    "common.download_csv": ("Hent som CSV", "Download as CSV"),
    # -- sign-in ----------------------------------------------------------------------------
    "signin.title": ("Log ind", "Sign in"),
    "signin.dev_intro": (
        "Udviklingsmiljø: vælg en person og roller. Konsollen udsteder selv et udviklings-token "
        "på serveren; det kommer aldrig i browseren.",
        "Development stack: choose a person and roles. The console mints a development token on "
        "the server; it never reaches the browser."),
    "signin.person": ("Person (pseudonymt id)", "Person (pseudonymous id)"),
    "signin.person_hint": ("Fx sagsbehandler-1. Kun bogstaver, tal, punktum, bindestreg.",
                           "E.g. caseworker-1. Letters, digits, dot and hyphen only."),
    "signin.roles": ("Roller", "Roles"),
    "signin.submit": ("Log ind", "Sign in"),
    "signin.oidc": ("Log ind med MitID Erhverv", "Sign in with MitID Erhverv"),
    "signin.none": ("Ingen log ind-metode er sat op (GRANTS_CONSOLE_OIDC_* eller dev).",
                    "No sign-in method is configured (GRANTS_CONSOLE_OIDC_* or dev)."),
    "signin.invalid": ("Angiv et gyldigt id og mindst én rolle.",
                       "Give a valid id and at least one role."),
    "signin.failed": ("Log ind mislykkedes ({code}).", "Sign-in failed ({code})."),
    "signin.continue": ("Fortsæt", "Continue"),
    "signout.done": ("Du er logget ud.", "You are signed out."),
    # -- pools ------------------------------------------------------------------------------
    "pools.title": ("Puljer", "Pools"),
    "pools.empty": ("Ingen puljer er offentliggjort endnu.", "No pool has been published yet."),
    "pools.pool": ("Pulje", "Pool"),
    "pools.programme": ("Program", "Programme"),
    "pools.deadline": ("Ansøgningsfrist", "Deadline"),
    "pools.amount": ("Beløb", "Amount"),
    "pools.applications": ("Ansøgninger", "Applications"),
    "pool.sub_pools": ("Delpuljer", "Sub-pools"),
    "pool.region": ("Region", "Region"),
    "pool.amount": ("Beløb", "Amount"),
    "pool.awarded": ("Bevilget", "Awarded"),
    "pool.accepted": ("Accepteret", "Accepted"),
    "pool.paid": ("Udbetalt", "Paid"),
    "pool.repaid": ("Tilbagebetalt", "Repaid"),
    "pool.remaining": ("Tilbage", "Remaining"),
    "pool.bar_label": ("{region}: {awarded} af {amount} bevilget",
                       "{region}: {awarded} of {amount} awarded"),
    "pool.links": ("Videre", "Further"),
    "pool.to_applications": ("Ansøgningerne", "The applications"),
    "pool.to_allocation": ("Fordeling og godkendelse", "Allocation and approval"),
    "pool.to_programme": ("Programmet", "The programme"),
    "pool.version": ("version {version}", "version {version}"),
    "pool.legend": ("Søjlen viser bevilget (blå) og udbetalt (gul stribe) af delpuljens beløb.",
                    "The bar shows awarded (blue) and paid (yellow strip) of the sub-pool's "
                    "amount."),
}


def dkk(oere: int | None, lang: str = "da") -> str:
    if oere is None:
        return "–"
    kroner, rest = divmod(abs(int(oere)), 100)
    sign = "-" if int(oere) < 0 else ""
    grouped = f"{kroner:,}"
    if lang == "da":
        grouped = grouped.replace(",", ".")
        return f"{sign}{grouped},{rest:02d} kr." if rest else f"{sign}{grouped} kr."
    return f"{sign}DKK {grouped}.{rest:02d}" if rest else f"{sign}DKK {grouped}"


def when(value: str | datetime | None, lang: str = "da") -> str:
    if value is None or value == "":
        return "–"
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if moment.tzinfo is None:
        return moment.strftime("%d.%m.%Y %H:%M" if lang == "da" else "%Y-%m-%d %H:%M")
    local = moment.astimezone(ZONE)
    return local.strftime("%d.%m.%Y kl. %H:%M:%S" if lang == "da" else "%Y-%m-%d %H:%M:%S")


def percent(part: int, whole: int) -> int:
    """Whole per cent of ``whole`` (0–100), for bars."""
    if whole <= 0:
        return 0
    return max(0, min(100, round(100 * part / whole)))


class Catalogue:
    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGUAGES else "da"
        self._i = LANGUAGES.index(self.lang)

    def __call__(self, key: str, **values: Any) -> str:
        entry = TEXTS.get(key)
        if entry is None:
            return key
        return entry[self._i].format(**values) if values else entry[self._i]

    def reason(self, code: str) -> str:
        entry = REASONS.get(code)
        return entry[self._i] if entry is not None else code

    def role(self, role: str) -> str:
        return self(f"role.{role}")

    def roles(self, roles: Any) -> str:
        return ", ".join(self.role(r) for r in roles)

    def refusal(self, refused: Any) -> str:
        reason = self.reason(refused.code)
        details = [self.reason(str(r.get("code", ""))) + (f" ({r['path']})" if r.get("path")
                   else "") for r in refused.reasons[:5] if r.get("code") != refused.code]
        if details:
            reason = f"{reason}: {'; '.join(details)}"
        return self("refused", service=self(f"service.{refused.service}"),
                    reason=f"{reason} [{refused.code}]")

    def dkk(self, oere: int | None) -> str:
        return dkk(oere, self.lang)

    def when(self, value: str | datetime | None) -> str:
        return when(value, self.lang)

    def percent(self, part: int, whole: int) -> int:
        return percent(part, whole)
