"""A whole small round through the console in a real browser, as each role, on the real stack.

Debian's Chromium (Playwright, ``executable_path``) drives the console the stack started; the
applicants and the scheduler act through the services' HTTP APIs, as a portal and a timer would.
Every page is checked with axe-core (no serious or critical violation) and written as a
screenshot to ``test-artifacts/console/``. The round: a caseworker grants an IT-problem exception,
two assessors score (one recuses on an application), an assessor who is also an approver is
refused the approve button (and the service refuses the approval), another approver allocates, a
caseworker approves a budget change and runs payments, two caseworkers release a hold (one alone
cannot), and the auditor runs the replay and downloads the 360Giving export.

It fails when a page breaks (every visit must answer 200 and show its heading), when a role
check breaks (the segregation of duties must be shown and enforced, the four-eyes release must
refuse one person twice), or when a page loses an accessible name, label or contrast.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from grants.scenario.demo import cvr_for
from grants.stack import StackState
from servicekit.identity import DevTokenIssuer

pytestmark = [pytest.mark.e2e]

ZONE = ZoneInfo("Europe/Copenhagen")
CRITERIA = [1, 2, 3, 4, 5]
TARGET = "vulnerable parents of children aged 0-6"


def wait_for(check: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    """Poll until ``check`` returns something truthy (events travel between services)."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached in {timeout:.0f}s: {what}")
        time.sleep(0.2)


class Platform:
    """The services' HTTP APIs, for what the portal and the scheduler do."""

    def __init__(self, state: StackState) -> None:
        self.urls = {name: svc.http_url for name, svc in state.services.items()}
        self.issuer = DevTokenIssuer(state.home / "keys")
        self.http = httpx.Client(timeout=30)

    def call(self, service: str, method: str, path: str, *, roles: list[str],
             cvr: str | None = None, body: Any = None, at: datetime | None = None,
             subject: str = "portal-user") -> httpx.Response:
        headers = {"Authorization": "Bearer " + self.issuer.issue(subject, roles, cvr=cvr)}
        if at is not None:
            headers["X-Grants-Simulated-Time"] = at.isoformat()
        return self.http.request(method, self.urls[service] + path, json=body, headers=headers)

    def staff_get(self, service: str, path: str) -> httpx.Response:
        return self.call(service, "GET", path, roles=["caseworker", "auditor"], subject="probe")

    def settled(self) -> bool:
        """Every outbox and every checkpoint published (before the auditors' replay)."""
        for url in self.urls.values():
            health = self.http.get(f"{url}/health").json()
            if health["outbox_pending"] or health.get("checkpoints_pending"):
                return False
        return True


class Person:
    """One signed-in person in a browser context of their own."""

    def __init__(self, browser: Any, console_url: str, artefacts: Path, subject: str,
                 roles: list[str]) -> None:
        from axe_playwright_python.sync_playwright import Axe

        self.url, self.artefacts, self.subject = console_url, artefacts, subject
        self.context = browser.new_context(locale="da-DK", viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.axe = Axe()
        self.visit("/signin", "signin")
        self.page.fill("#subject", subject)
        for role in roles:
            self.page.check(f"#role-{role}")
        self.press("form[action='/signin/dev'] button[type=submit]")
        assert subject in self.page.inner_text("header"), "not signed in"

    def visit(self, path: str, name: str) -> Any:
        answer = self.page.goto(self.url + path)
        assert answer is not None and answer.status == 200, (path, answer and answer.status)
        self.check(name)
        return self.page

    def check(self, name: str) -> None:
        """axe-core on the page as it is now, and its screenshot as an artefact."""
        assert self.page.locator("h1").count() == 1, f"{name}: one h1 per page"
        results = self.axe.run(self.page)
        bad = [f"{v['id']} ({v['impact']}): {v['help']} — "
               f"{[n['target'] for n in v['nodes']][:3]}"
               for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
        assert not bad, f"{name}: accessibility violations: {bad}"
        self.page.screenshot(path=str(self.artefacts / f"{name}.png"), full_page=True)

    def press(self, target: Any, timeout_s: float = 30.0) -> None:
        """Click a button (or link) that sends a form, and wait for the page it leads to."""
        button = self.page.locator(target) if isinstance(target, str) else target
        with self.page.expect_navigation(timeout=timeout_s * 1000):
            button.click(no_wait_after=True)

    def download(self, link_name: str) -> tuple[str, str]:
        """The file a download link serves (file name, text), fetched with this person's
        session (headless Chromium cancels downloads without a download folder)."""
        href = self.page.get_by_role("link", name=link_name).get_attribute("href")
        assert href and href.startswith("/"), href
        answer = self.context.request.get(self.url + href)
        assert answer.status == 200, (href, answer.status)
        found = re.search(r'filename="([^"]+)"', answer.headers.get("content-disposition", ""))
        assert found, f"{href} is not a download"
        return found.group(1), answer.text()

    def flash(self) -> str:
        return re.sub(r"\s+", " ", self.page.locator(".flash").first.inner_text()).strip()

    def close(self) -> None:
        self.context.close()


def _pool(pool_id: str, deadline: datetime) -> dict[str, Any]:
    return {
        "pool_id": pool_id, "title": "Familiehuse, browser-runde", "programme": pool_id,
        "total_dkk": 3_000_000, "applicant_group": ["municipality"],
        "deadline_local": deadline.strftime("%Y-%m-%dT%H:%M:00"), "timezone": "Europe/Copenhagen",
        "project_period": {"start": "2026-10-01", "end": "2027-09-30",
                           "delayed_start_allowed": True},
        "target_group": TARGET, "checks_purpose": False, "status_report_months": [1],
        "sub_pools": [
            {"region_code": "1084", "region": "Hovedstaden", "amount_dkk": 2_000_000},
            {"region_code": "1082", "region": "Midtjylland", "amount_dkk": 1_000_000}],
        "criteria": [{"id": c, "name": f"kriterium {c}", "minimum_requirement": c == 1}
                     for c in CRITERIA],
    }


def _submission(pool_id: str, application_id: str, code: str, name: str,
                amount_dkk: int) -> dict[str, Any]:
    staff = amount_dkk * 80  # øre: 80 % salary, 20 % other
    return {
        "submission_id": str(uuid.uuid4()), "application_id": application_id,
        "pool_id": pool_id,
        "applicant": {"cvr": cvr_for(code), "municipality_code": code, "name": name},
        "purpose": "et familiehus", "target_group": TARGET,
        "budget": {"lines": [
            {"post": "projektpersonale", "category": "salary", "rate_oere": 50_000,
             "quantity": staff // 50_000, "amount_oere": staff},
            {"post": "materialer", "category": "other", "amount_oere": amount_dkk * 20}],
            "total_oere": amount_dkk * 100},
    }


def _months(posts: dict[str, int]) -> dict[str, dict[str, int]]:
    """The posts spread over the 12 months of the project period (remainders in the first)."""
    keys = [f"{2026 + (9 + i) // 12}-{(9 + i) % 12 + 1:02d}" for i in range(12)]
    months: dict[str, dict[str, int]] = {k: {} for k in keys}
    for post, total in posts.items():
        share, rest = divmod(total, 12)
        for i, key in enumerate(keys):
            months[key][post] = share + (rest if i == 0 else 0)
    return months


@pytest.mark.timeout(900)  # a whole round and a replay; minutes on a loaded 2-core machine
def test_a_small_round_through_the_console_as_each_role(
        browser: Any, console_stack: StackState, artefacts: Path) -> None:
    platform = Platform(console_stack)
    assert console_stack.console is not None
    url = console_stack.console.http_url
    pool_id = f"browser-{uuid.uuid4().hex[:8]}"
    # The stack runs in simulation mode: the portal's and the scheduler's calls say when they
    # happen; what a person does in the console happens at the latest time a service has seen.
    deadline = datetime(2026, 9, 28, 12, 0, tzinfo=ZONE)
    before = (deadline - timedelta(days=1)).astimezone(UTC)
    after = deadline.astimezone(UTC)

    caseworker = Person(browser, url, artefacts, "sagsbehandler-1", ["caseworker"])
    published = platform.call("assessment", "POST", "/pools", roles=["caseworker"],
                              body=_pool(pool_id, deadline), subject="sagsbehandler-1")
    assert published.status_code == 201, published.text

    apps = {ref: str(uuid.uuid4()) for ref in ("KBH", "GENTOFTE", "FRB", "AARHUS")}
    applicants = {"KBH": ("101", "København Kommune", 1_000_000),
                  "GENTOFTE": ("157", "Gentofte Kommune", 800_000),
                  "FRB": ("147", "Frederiksberg Kommune", 600_000),
                  "AARHUS": ("751", "Aarhus Kommune", 500_000)}

    def submit(ref: str) -> dict[str, Any] | None:
        code, name, amount = applicants[ref]
        receipt = platform.call("intake", "POST", "/submissions", roles=["applicant"],
                                cvr=cvr_for(code), at=before,
                                body=_submission(pool_id, apps[ref], code, name, amount)).json()
        reasons = {r["code"] for r in receipt.get("reasons", [])}
        return None if "pool_unknown" in reasons else receipt  # intake learns pools by event

    for ref in ("KBH", "GENTOFTE", "AARHUS"):
        receipt = wait_for(lambda ref=ref: submit(ref), "intake knows the pool")
        assert receipt["status"] == "on_time", receipt
    # Frederiksberg's portal failed before the deadline: it writes in, then submits late.
    code, name, amount = applicants["FRB"]
    contact = platform.call("intake", "POST", f"/applications/{apps['FRB']}/it-problem-contacts",
                            roles=["applicant"], cvr=cvr_for(code),
                            at=after + timedelta(hours=1), body={
                                "pool_id": pool_id, "documentation": True,
                                "attempted_before_deadline": True,
                                "screenshot_at": (deadline - timedelta(minutes=10)).astimezone(
                                    UTC).isoformat(),
                                "evidence_refs": ["skaermbillede-fejl-1157.png"]})
    assert contact.status_code == 201 and contact.json()["status"] == "pending", contact.text
    late = platform.call("intake", "POST", "/submissions", roles=["applicant"], cvr=cvr_for(code),
                         at=after + timedelta(hours=2), body=_submission(pool_id, apps["FRB"], code, name, amount))
    assert late.json()["status"] == "exception_pending", late.text

    # -- the caseworker decides the exception --------------------------------------------------
    page = caseworker.visit("/exceptions", "exceptions")
    row = page.locator("tr", has_text=apps["FRB"])
    assert "skaermbillede-fejl-1157.png" in row.inner_text()
    caseworker.press(row.get_by_role("button", name="Bevilg"))
    assert caseworker.flash() == "Udført: Dispensationen er bevilget."
    caseworker.check("exceptions-decided")

    def all_awaiting_scores() -> bool:
        rows = platform.staff_get("assessment", f"/pools/{pool_id}/applications").json()
        return sum(a["status"] == "awaiting_scores" for a in rows["applications"]) == 4
    wait_for(all_awaiting_scores, "every application accepted and eligible")

    caseworker.visit("/pools", "pools")
    caseworker.visit(f"/pools/{pool_id}", "pool")
    page = caseworker.visit(f"/pools/{pool_id}/applications?q=gentofte", "applications-search")
    assert "1 af 4 ansøgninger" in page.inner_text("main")
    page.select_option("#f-region", "1084")
    page.fill("#f-q", "")
    caseworker.press("form[role=search] button[type=submit]")
    assert "3 af 4 ansøgninger" in page.inner_text("main")
    caseworker.check("applications")

    # -- two assessors score; the second recuses on Gentofte ----------------------------------
    marks = {"KBH": 5, "GENTOFTE": 4, "FRB": 3, "AARHUS": 4}
    assessor = Person(browser, url, artefacts, "bedommer-1", ["assessor"])
    for ref, mark in marks.items():
        page = assessor.visit(f"/applications/{apps[ref]}", f"score-{ref.lower()}")
        for c in CRITERIA:
            page.select_option(f"#criterion-{c}", str(mark))
        page.fill("#justification", f"Vurderet efter kriterierne: {mark} på hvert.")
        assessor.press("#score-form ~ form button[type=submit]")
        assert assessor.flash() == "Udført: Bedømmelsen er gemt.", ref
    both = Person(browser, url, artefacts, "bedommer-2", ["assessor", "approver"])
    page = both.visit(f"/applications/{apps['KBH']}", "application")
    for c in CRITERIA:
        page.select_option(f"#criterion-{c}", "5")
    page.fill("#justification", "Enig: et stærkt projekt.")
    both.press("#score-form ~ form button[type=submit]")
    assert both.flash() == "Udført: Bedømmelsen er gemt."
    page = both.visit(f"/applications/{apps['GENTOFTE']}", "recuse")
    page.check("#coi-yes")
    page.fill("#justification", "Min ægtefælle er ansat i projektet.")
    both.press("#score-form ~ form button[type=submit]")
    assert both.flash() == "Udført: Du har erklæret dig inhabil."

    # -- the assessor who is also an approver is refused the approve button -------------------
    page = both.visit(f"/pools/{pool_id}/allocation", "allocation-refused")
    assert page.locator("#approve").is_disabled()
    assert "Funktionsadskillelse" in page.inner_text(".sod")
    # … and the service refuses it too, shown in words, when the form is sent anyway
    csrf = page.locator("input[name=csrf]").first.get_attribute("value")
    refused = both.context.request.post(f"{url}/pools/{pool_id}/allocation", form={"csrf": csrf})
    assert "Bedømmelsen afviste: Funktionsadskillelse" in refused.text()
    assert "[segregation_of_duties]" in refused.text()

    # -- the approver allocates ----------------------------------------------------------------
    approver = Person(browser, url, artefacts, "godkender-1", ["approver"])
    page = approver.visit(f"/pools/{pool_id}/allocation", "allocation")
    hovedstaden = page.locator("table").first.inner_text()
    assert hovedstaden.index("København") < hovedstaden.index("Gentofte") < hovedstaden.index(
        "Frederiksberg")
    assert "Det fulde beløb er ikke længere plads til i delpuljen" in hovedstaden
    approver.press("#approve")
    assert approver.flash() == "Udført: 4 afgørelser truffet, 3 bevillinger."
    approver.check("allocation-approved")
    page = approver.visit(f"/applications/{apps['FRB']}", "application-rejected")
    assert "Afslået" in page.inner_text("main")
    timeline = page.inner_text(".timeline")
    assert "ItProblemExceptionDecided" in timeline and "sagsbehandler-1 (sagsbehandler)" in timeline

    # -- the grantee accepts and sends a budget that moves more than 10 % ----------------------
    kbh = apps["KBH"]
    kbh_cvr = cvr_for("101")
    wait_for(lambda: platform.staff_get("payments", f"/grants/{kbh}").status_code == 200,
             "payments opened the grant")
    accepted = platform.call("payments", "POST", f"/grants/{kbh}/acceptance", roles=["applicant"],
                             cvr=kbh_cvr, body={}, at=after + timedelta(days=3))
    assert accepted.status_code == 200, accepted.text
    for version, (staff, other, status) in enumerate(
            [(80_000_000, 20_000_000, "approved"),  # as the application's budget
             (65_000_000, 35_000_000, "pending_approval")], start=1):  # a 15 % move
        budget = platform.call("payments", "POST", f"/grants/{kbh}/revised-budgets",
                               roles=["applicant"], cvr=kbh_cvr,
                               at=after + timedelta(days=3 + version), body={"months": _months(
                                   {"projektpersonale": staff, "materialer": other})})
        assert budget.json()["status"] == status, budget.text

    page = caseworker.visit(f"/grants/{kbh}", "grant-budget-pending")
    assert "afventer godkendelse" in page.inner_text("main")
    assert "Flytningen mellem poster er over 10 %" in page.inner_text("main")
    caseworker.press(page.get_by_role("button", name="Godkend version 2"))
    assert caseworker.flash() == "Udført: Budgetversion 2 er godkendt."

    # -- payments run ----------------------------------------------------------------------------
    page.fill("#through", "2026-10-01")  # the first quarter has begun
    caseworker.press(page.get_by_role("button", name="Kør betalinger"))
    assert re.fullmatch(r"Udført: [1-9]\d* betalinger sendt til økonomisystemet\.",
                        caseworker.flash())
    assert "sendt til økonomisystemet" in page.inner_text("main")  # the ledger's row
    caseworker.check("grant-paid")

    # -- an overdue status report holds payments; two people release it ------------------------
    swept = platform.call("reporting", "POST", "/ops/sweep", roles=["caseworker"],
                          subject="scheduler", body={}, at=datetime(2026, 11, 5, 8, 0, tzinfo=UTC))
    assert swept.status_code == 200, swept.text
    wait_for(lambda: platform.staff_get("payments", f"/grants/{kbh}").json()["holds"],
             "the overdue report held the payments")
    page = caseworker.visit(f"/grants/{kbh}", "grant-held")
    caseworker.press(page.get_by_role("button", name="Anmod om ophævelse (1. person)"))
    assert "en anden sagsbehandler skal godkende" in caseworker.flash()
    caseworker.press(page.get_by_role("button", name="Godkend ophævelse (2. person)"))
    assert "[two_person_rule]" in caseworker.flash()  # one person cannot do both
    second = Person(browser, url, artefacts, "sagsbehandler-2", ["caseworker"])
    page = second.visit(f"/grants/{kbh}", "grant-release")
    second.press(page.get_by_role("button", name="Godkend ophævelse (2. person)"))
    assert second.flash() == "Udført: Udbetalingsstoppet er ophævet."
    assert "Ingen udbetalingsstop." in page.inner_text("main")
    second.check("grant-released")

    # -- the programme's tables and their CSV ----------------------------------------------------
    page = caseworker.visit(f"/programmes/{pool_id}", "programme")
    assert "kommune" in page.inner_text("table")
    _, text = caseworker.download("Hent som CSV")
    rows = text.splitlines()
    assert rows[0].startswith("pool_id,title,applicant_kind") and len(rows) == 2
    assert rows[1].endswith(",4,3,2900000.00,2300000.00")

    # -- the auditor runs the replay and downloads the export -------------------------------------
    wait_for(platform.settled, "every event and checkpoint published")
    auditor = Person(browser, url, artefacts, "revisor-1", ["auditor"])
    page = auditor.visit("/audit", "audit")
    auditor.press("#run-replay", timeout_s=600)  # the replay reads the whole log
    assert auditor.flash() == "Udført: Verificeret: alle regler holder", auditor.flash()
    assert "Verificeret" in page.inner_text("#verdict")
    auditor.check("audit-verified")
    filename, exported = auditor.download("Hent 360Giving CSV")
    assert filename == "360giving.csv"
    assert exported.count("\n") >= 4  # a header and the three awards (and any earlier ones)
    filename, report = auditor.download("Hent rapporten (HTML)")
    assert filename == "replay-report.html" and "<html" in report[:500].lower()
    # a caseworker is not offered the replay
    page = caseworker.visit("/audit", "audit-caseworker")
    assert page.locator("#run-replay").is_disabled()

    # -- in English ---------------------------------------------------------------------------
    page = caseworker.visit(f"/pools/{pool_id}", "pool")
    caseworker.press(page.get_by_role("link", name="English"))
    assert page.locator("html").get_attribute("lang") == "en"
    assert "Sub-pools" in page.inner_text("main")
    caseworker.check("pool-en")
    page = caseworker.visit(f"/grants/{kbh}", "grant-en")
    assert "Payment ledger" in page.inner_text("main")

    for person in (caseworker, assessor, both, approver, second, auditor):
        person.close()
