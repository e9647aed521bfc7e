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
    # -- enumerations -------------------------------------------------------------------------
    "status.received": ("modtaget", "received"),
    "status.awaiting_eligibility": ("afventer formel vurdering", "awaiting eligibility"),
    "status.ineligible": ("ikke støtteberettiget", "ineligible"),
    "status.awaiting_scores": ("afventer bedømmelse", "awaiting scores"),
    "status.scored": ("bedømt", "scored"),
    "status.awarded": ("bevilget", "awarded"),
    "status.rejected": ("afslået", "rejected"),
    "kind.municipality": ("kommune", "municipality"),
    "kind.region": ("region", "region"),
    "kind.voluntary_organisation": ("frivillig organisation", "voluntary organisation"),
    "kind.private_supplier": ("privat leverandør", "private supplier"),
    "kind.other": ("anden", "other"),
    "category.salary": ("løn", "salary"),
    "category.other": ("øvrige udgifter", "other costs"),
    "contact.before_deadline": ("henvendelse før fristen", "contact before the deadline"),
    "contact.after_deadline": ("henvendelse efter fristen", "contact after the deadline"),
    "decision.awarded": ("Bevilget", "Awarded"),
    "decision.rejected": ("Afslået", "Rejected"),
    "exception.pending": ("afventer afgørelse", "awaiting a decision"),
    "exception.refused": ("afvist", "refused"),
    "exception.granted": ("bevilget", "granted"),
    "frequency.monthly": ("månedligt", "monthly"),
    "frequency.quarterly": ("kvartalsvis forud", "quarterly in advance"),
    "frequency.half_yearly": ("halvårligt", "half-yearly"),
    "frequency.yearly": ("årligt", "yearly"),
    "outcome.instructed": ("sendt til økonomisystemet", "sent to finance"),
    "outcome.executed": ("udbetalt", "executed"),
    "outcome.failed": ("fejlet", "failed"),
    "receipt.on_time": ("rettidig", "on time"),
    "receipt.exception_pending": ("afventer IT-dispensation", "awaiting an IT-problem exception"),
    "receipt.exception_granted": ("optaget ved IT-dispensation", "admitted by an exception"),
    "receipt.late_rejected": ("afvist for sent", "rejected as late"),
    "receipt.exception_refused": ("dispensation afvist", "exception refused"),
    "timeliness.on_time": ("rettidig", "on time"),
    "timeliness.late": ("for sent", "late"),
    "report.status": ("statusrapport", "status report"),
    "report.final": ("slutrapport", "final report"),
    "report.status.accepted": ("godkendt", "accepted"),
    "report.status.rejected": ("afvist", "rejected"),
    "audit_level.reviewer": ("uafhængig, kompetent gennemgang (op til 100.000 kr.)",
                             "independent, competent reviewer (up to DKK 100,000)"),
    "audit_level.auditor_statement": ("revisorerklæring (over 100.000 kr.)",
                                      "auditor's statement (over DKK 100,000)"),
    "audit_level.auditor_statement_and_performance_audit": (
        "revisorerklæring og forvaltningsrevision (over 500.000 kr.)",
        "auditor's statement and performance audit (over DKK 500,000)"),
    "budget.status.submitted": ("indsendt", "submitted"),
    "budget.status.approved": ("godkendt", "approved"),
    "budget.status.pending_approval": ("afventer godkendelse", "awaiting approval"),
    "budget.status.rejected": ("afvist", "rejected"),
    "budget.status.superseded": ("erstattet af et nyere", "superseded"),
    "budget.approval.automatic": ("automatisk, inden for reglerne", "automatic, within the rules"),
    "budget.approval.caseworker": ("af en sagsbehandler", "by a caseworker"),
    "grant.status.accepted": ("accepteret", "accepted"),
    "grant.status.awaiting_acceptance": ("afventer accept", "awaiting acceptance"),
    "grant.status.lapsed": ("bortfaldet", "lapsed"),
    # -- applications -----------------------------------------------------------------------
    "apps.title": ("Ansøgninger", "Applications"),
    "apps.filter": ("Filtrér ansøgningerne", "Filter the applications"),
    "apps.all": ("Alle", "All"),
    "apps.reason": ("Begrundelse", "Reason"),
    "apps.search": ("Søg ansøger (navn, CVR, kommune)", "Search applicant (name, CVR, municipality)"),
    "apps.apply": ("Vis", "Show"),
    "apps.count": ("{matching} af {total} ansøgninger", "{matching} of {total} applications"),
    "apps.applicant": ("Ansøger", "Applicant"),
    "apps.applied": ("Ansøgt", "Applied for"),
    "apps.score": ("Score", "Score"),
    "apps.reasons": ("Begrundelser", "Reasons"),
    "apps.municipality": ("kommune", "municipality"),
    "app.heading": ("Ansøgning", "Application"),
    "app.id": ("Ansøgnings-id", "Application id"),
    "app.grant": ("Tilskud", "Grant"),
    "app.to_grant": ("Tilskuddet: budget, udbetalinger, rapporter", "The grant: budget, payments, reports"),
    "app.versions": ("Indsendte versioner og kvitteringer", "Submitted versions and receipts"),
    "app.version": ("Version", "Version"),
    "app.received": ("Modtaget", "Received"),
    "app.timeliness": ("Rettidighed", "Timeliness"),
    "app.receipt": ("Kvittering", "Receipt"),
    "app.budget": ("Budget (vejledende, hele projektperioden)", "Budget (indicative, whole period)"),
    "app.eligibility": ("Formel vurdering", "Eligibility"),
    "app.eligible": ("Støtteberettiget: alle minimumskriterier er opfyldt.",
                     "Eligible: every minimum criterion is met."),
    "app.not_eligible": ("Ikke støtteberettiget:", "Not eligible:"),
    "app.not_assessed": ("Endnu ikke vurderet.", "Not assessed yet."),
    "app.scores": ("Bedømmelser", "Scores"),
    "app.assessor": ("Bedømmer", "Assessor"),
    "app.no_scores": ("Ingen bedømmelser endnu.", "No scores yet."),
    "app.decision": ("Afgørelse", "Decision"),
    "app.rank": ("Placering", "Rank"),
    "app.approved_by": ("godkendt af {who} {when}", "approved by {who} {when}"),
    "app.undecided": ("Ikke afgjort endnu.", "Not decided yet."),
    "app.timeline": ("Tidslinje: alle hændelser", "Timeline: every event"),
    "app.no_events": ("Ingen hændelser endnu.", "No events yet."),
    "budget.post": ("Post", "Post"),
    "budget.category": ("Type", "Category"),
    "budget.rate": ("Sats", "Rate"),
    "budget.quantity": ("Antal", "Quantity"),
    # -- scoring ----------------------------------------------------------------------------
    "score.title": ("Din bedømmelse", "Your assessment"),
    "score.conflict": ("Inhabilitet", "Conflict of interest"),
    "score.no_conflict": ("Jeg er ikke inhabil", "I have no conflict of interest"),
    "score.has_conflict": ("Jeg er inhabil og erklærer mig inhabil (mine scorer tæller ikke)",
                           "I have a conflict of interest and recuse (my scores do not count)"),
    "score.minimum": ("minimumskrav", "minimum requirement"),
    "score.justification": ("Skriftlig begrundelse", "Written justification"),
    "score.submit": ("Gem bedømmelse", "Save assessment"),
    "score.saved": ("Bedømmelsen er gemt.", "The assessment is saved."),
    "score.recused": ("Du har erklæret dig inhabil.", "You have recused."),
    "score.recused_short": ("inhabil", "recused"),
    # -- exceptions -------------------------------------------------------------------------
    "exceptions.title": ("IT-nedbrud: dispensationer", "IT problems: exceptions"),
    "exceptions.intro": (
        "Henvendelser om IT-problemer, der venter på en sagsbehandlers afgørelse (R6–R8).",
        "Contacts about IT problems awaiting a caseworker's decision (R6–R8)."),
    "exceptions.empty": ("Ingen dispensationer venter.", "No exception is waiting."),
    "exceptions.contact": ("Henvendelse", "Contact"),
    "exceptions.evidence": ("Dokumentation", "Evidence"),
    "exceptions.decide": ("Afgør", "Decide"),
    "exceptions.versions": ("{n} versioner", "{n} versions"),
    "exceptions.approve": ("Bevilg", "Grant"),
    "exceptions.refuse": ("Afvis", "Refuse"),
    "exceptions.approve_for": ("Bevilg dispensation for {id}", "Grant the exception for {id}"),
    "exceptions.refuse_for": ("Afvis dispensation for {id}", "Refuse the exception for {id}"),
    "exceptions.approved": ("Dispensationen er bevilget.", "The exception is granted."),
    "exceptions.refused": ("Dispensationen er afvist.", "The exception is refused."),
    # -- allocation -------------------------------------------------------------------------
    "allocation.title": ("Fordeling og godkendelse", "Allocation and approval"),
    "allocation.intro": (
        "Indstillingen pr. delpulje: rangordning efter score (lodtrækning ved lighed), hvad der "
        "kan bevilges fuldt ud, og hvad der ikke kan og hvorfor.",
        "The recommendation per sub-pool: the ranking by score (the pool's draw on a tie), what "
        "can be awarded in full, and what cannot and why."),
    "allocation.nothing": ("Intet at fordele i denne delpulje.", "Nothing to allocate here."),
    "allocation.ranking_of": ("Rangordning i {region}", "Ranking in {region}"),
    "allocation.outcome": ("Indstilling", "Recommendation"),
    "allocation.why": ("Hvorfor", "Why"),
    "allocation.fits": ("Kan bevilges", "Fits"),
    "allocation.does_not_fit": ("Kan ikke bevilges", "Does not fit"),
    "allocation.recommended": ("Indstillet til bevilling", "Recommended for award"),
    "allocation.you_assessed": ("du har bedømt den", "you assessed it"),
    "allocation.approve_heading": ("Godkend", "Approve"),
    "allocation.approve": ("Godkend indstillingen ({n} ansøgninger)",
                           "Approve the recommendation ({n} applications)"),
    "allocation.sod": (
        "Du har bedømt eller erklæret dig inhabil i {n} af ansøgningerne og kan ikke godkende "
        "denne runde; en anden godkender skal gøre det:",
        "You scored or recused from {n} of the applications and cannot approve this round; "
        "another approver must:"),
    "allocation.all_decided": ("Alle ansøgninger i puljen er afgjort.",
                               "Every application of the pool is decided."),
    "allocation.approved": ("{decided} afgørelser truffet, {awarded} bevillinger.",
                            "{decided} decisions made, {awarded} awards."),
    # -- grants -----------------------------------------------------------------------------
    "grant.title": ("Tilskud", "Grant"),
    "grant.to_application": ("Til ansøgningen", "To the application"),
    "grant.award": ("Tilsagn", "Award"),
    "grant.period": ("Projektperiode", "Project period"),
    "grant.delayed_start": ("senere start tilladt", "delayed start allowed"),
    "grant.frequency": ("Udbetaling", "Payments"),
    "grant.approved_by": ("Godkendt af", "Approved by"),
    "grant.acceptance": ("Accept", "Acceptance"),
    "grant.accepted": ("accepteret af {who} {when}", "accepted by {who} {when}"),
    "grant.awaiting_acceptance": ("ikke accepteret; frist {deadline}",
                                  "not accepted; deadline {deadline}"),
    "grant.budgets": ("Revideret budget pr. måned: versioner", "Revised monthly budget: versions"),
    "grant.budgets_intro": (
        "Hver version mod grundlaget: det vejledende budget for den første, derefter den seneste "
        "godkendte. Flytninger over 10 % eller 100.000 kr. og nye poster kræver godkendelse.",
        "Each version against its baseline: the indicative budget for the first, then the latest "
        "approved one. Moves over 10 % or DKK 100,000 and new posts need approval."),
    "grant.no_budget": ("Intet revideret budget endnu.", "No revised budget yet."),
    "grant.budget_version": ("Version {version}", "Version {version}"),
    "grant.needs_approval": ("Kræver godkendelse", "Needs approval"),
    "grant.baseline": ("Grundlag", "Baseline"),
    "grant.this_version": ("Denne version", "This version"),
    "grant.change": ("Ændring", "Change"),
    "grant.new_post": ("ny post", "new post"),
    "grant.message": ("Besked til tilskudsmodtageren (valgfri)", "Message to the grantee (optional)"),
    "grant.approve_budget": ("Godkend version {version}", "Approve version {version}"),
    "grant.reject_budget": ("Afvis version {version}", "Reject version {version}"),
    "grant.ledger": ("Udbetalinger", "Payment ledger"),
    "grant.instructed_paid": ("Sendt til udbetaling {instructed}; udbetalt {paid}",
                              "Instructed {instructed}; paid {paid}"),
    "grant.due": ("Forfald", "Due"),
    "grant.period_short": ("Periode", "Period"),
    "grant.kind": ("Art", "Kind"),
    "grant.instruction": ("betaling", "payment"),
    "grant.reissue": ("genudsendt betaling", "re-issued payment"),
    "grant.no_instructions": ("Ingen udbetalinger endnu.", "No payments yet."),
    "grant.holds": ("Udbetalingsstop", "Holds"),
    "grant.no_holds": ("Ingen udbetalingsstop.", "No holds."),
    "grant.reports": ("Rapporter og regnskab", "Reports and accounts"),
    "grant.audit_level": ("Revisionskrav", "Audit level required"),
    "grant.deadlines": ("Frister", "Deadlines"),
    "grant.spent": ("Forbrugt", "Spent"),
    "grant.repayment": ("Tilbagebetalingskrav", "Repayment claimed"),
    "grant.waived": ("{amount} under 500 kr. opkræves ikke", "{amount} under DKK 500 not collected"),
    "grant.no_reports": ("Ingen rapporter endnu.", "No reports yet."),
    "budget.approved": ("Budgetversion {version} er godkendt.", "Budget version {version} approved."),
    "budget.rejected": ("Budgetversion {version} er afvist.", "Budget version {version} rejected."),
    "hold.request": ("Anmod om ophævelse (1. person)", "Ask to release (first person)"),
    "hold.approve": ("Godkend ophævelse (2. person)", "Approve the release (second person)"),
    "hold.four_eyes": ("Firøjneprincippet: én anmoder, en anden godkender.",
                       "Four eyes: one person asks, another approves."),
    "hold.release-requests": ("Ophævelse anmodet; en anden sagsbehandler skal godkende.",
                              "Release requested; another caseworker must approve."),
    "hold.release-approvals": ("Udbetalingsstoppet er ophævet.", "The hold is released."),
    "payments.through": ("Betalingskørsel til og med dato", "Payment run through date"),
    "payments.run": ("Kør betalinger", "Run payments"),
    "payments.run_done": ("{count} betalinger sendt til økonomisystemet.",
                          "{count} payments sent to finance."),
    # -- programme --------------------------------------------------------------------------
    "programme.title": ("Program {programme}", "Programme {programme}"),
    "programme.intro": ("Alle puljer og runder i programmet: ansøgninger pr. ansøgertype, "
                        "bevillinger og beløb.",
                        "Every pool and round of the programme: applications by applicant kind, "
                        "awards and amounts."),
    "programme.kind": ("Ansøgertype", "Applicant kind"),
    "programme.awards": ("Bevillinger", "Awards"),
    # -- audit ------------------------------------------------------------------------------
    "audit.title": ("Revision", "Audit"),
    "audit.replay": ("Revisorernes genafspilning", "The auditors' replay"),
    "audit.replay_intro": (
        "Genopbygger alt fra hændelsesloggen fra begyndelsen og kontrollerer de signerede "
        "kontrolpunkter og reglerne (R23). Kun for revisorer.",
        "Rebuilds everything from the event log from its start and verifies the signed "
        "checkpoints and the rules (R23). Auditors only."),
    "audit.run": ("Kør genafspilning", "Run the replay"),
    "audit.no_replay": ("Genafspilning er ikke sat op for denne konsol.",
                        "The replay is not set up for this console."),
    "audit.verdict": ("Resultat", "Verdict"),
    "audit.verdict.verified": ("Verificeret: alle regler holder", "Verified: every rule holds"),
    "audit.verdict.violations": ("Overtrædelser fundet", "Violations found"),
    "audit.events": ("{n} hændelser genafspillet", "{n} events replayed"),
    "audit.digest": ("Tilstandens fingeraftryk", "State digest"),
    "audit.first_violation": ("Første overtrædelse", "First violation"),
    "audit.invariant": ("Regel", "Rule"),
    "audit.message": ("Besked", "Message"),
    "audit.event": ("Hændelse", "Event"),
    "audit.violations": ("{n} overtrædelser i alt.", "{n} violations in all."),
    "audit.download_report_html": ("Hent rapporten (HTML)", "Download the report (HTML)"),
    "audit.download_report_json": ("Hent rapporten (JSON)", "Download the report (JSON)"),
    "audit.dead_letters": ("Fejlede beskeder (dead letters) pr. tjeneste",
                           "Dead letters per service"),
    "audit.service": ("Tjeneste", "Service"),
    "audit.consumer": ("Forbruger", "Consumer"),
    "audit.dead_lettered": ("Sat til side siden start", "Set aside since start"),
    "audit.exports": ("360Giving-eksport", "360Giving export"),
    "audit.download_json": ("Hent 360Giving JSON", "Download 360Giving JSON"),
    "audit.download_csv": ("Hent 360Giving CSV", "Download 360Giving CSV"),
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
