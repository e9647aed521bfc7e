"""R3: business validation of a parsed submission, every violation with its path."""

from __future__ import annotations

import pytest

from contracts.base import Applicant, BudgetLine
from contracts.municipalities import municipalities

from services.intake.domain import cvr_is_valid, validate_budget, validate_submission

from tests.unit.intake.factories import (
    CVR_AARHUS, CVR_GENTOFTE, CVR_KBH, applicant, budget, other, pool_definition, pools_of,
    published, salary, submission,
)


def pairs(reasons: list) -> list[tuple[str, str | None]]:  # type: ignore[type-arg]
    return [(r.code, r.path) for r in reasons]


# --- CVR modulus 11 -------------------------------------------------------------------------


@pytest.mark.parametrize("cvr", [CVR_AARHUS, CVR_KBH, CVR_GENTOFTE, "77808701", "00000000"])
def test_valid_cvr_numbers(cvr: str) -> None:
    assert cvr_is_valid(cvr)


@pytest.mark.parametrize(
    "cvr",
    [
        "29189847",  # last digit off by one: weighted sum 188
        "29189845",
        "92189846",  # two digits swapped
        "2918984",  # too short
        "291898460",  # too long
        "2918984a",
        "２９１８９８４６",  # full-width digits are digits to str.isdigit, not to us
        "",
    ],
)
def test_invalid_cvr_numbers(cvr: str) -> None:
    assert not cvr_is_valid(cvr)


def test_every_single_digit_change_of_a_valid_cvr_is_caught() -> None:
    # Modulus 11 with these weights detects every single-digit error: the weights are all
    # non-zero modulo 11, so changing one digit by d changes the sum by w·d, never a multiple of 11.
    for i in range(8):
        for digit in "0123456789":
            changed = CVR_AARHUS[:i] + digit + CVR_AARHUS[i + 1 :]
            assert cvr_is_valid(changed) == (changed == CVR_AARHUS)


def test_cvr_invalid_reason() -> None:
    command = submission(applicant=Applicant(cvr="29189847", municipality_code="751", name="A"))
    assert pairs(validate_submission(command, pools_of())) == [("cvr_invalid", "applicant.cvr")]


# --- municipality and pool ------------------------------------------------------------------


def test_there_are_98_municipalities() -> None:
    assert len(municipalities()) == 98


@pytest.mark.parametrize("code", ["101", "751", "851", "860"])
def test_known_municipalities_pass(code: str) -> None:
    command = submission(applicant=applicant(municipality_code=code))
    assert validate_submission(command, pools_of()) == []


@pytest.mark.parametrize("code", ["000", "102", "999"])
def test_unknown_municipality(code: str) -> None:
    command = submission(applicant=applicant(municipality_code=code))
    assert pairs(validate_submission(command, pools_of())) == [
        ("municipality_unknown", "applicant.municipality_code")
    ]


def test_unknown_pool() -> None:
    command = submission(pool_id="other-pool")
    assert pairs(validate_submission(command, pools_of())) == [("pool_unknown", "pool_id")]
    assert pairs(validate_submission(command, {})) == [("pool_unknown", "pool_id")]


def test_pool_without_deadline_is_not_open() -> None:
    pools = pools_of(published(pool_definition(deadline_local=None)))
    assert pairs(validate_submission(submission(), pools)) == [("pool_not_open", "pool_id")]


# --- budget -----------------------------------------------------------------------------------


def test_a_clean_budget() -> None:
    assert validate_budget(budget()) == []


def test_empty_budget() -> None:
    assert pairs(validate_budget(budget(total=0).model_copy(update={"lines": []}))) == [
        ("budget_empty", "budget.lines")
    ]


def test_empty_budget_with_a_total_reports_only_that_it_is_empty() -> None:
    empty = budget().model_copy(update={"lines": []})
    assert pairs(validate_budget(empty)) == [("budget_empty", "budget.lines")]


def test_salary_line_needs_rate_and_quantity() -> None:
    lines = [
        BudgetLine(post="a", category="salary", amount_oere=100),
        BudgetLine(post="b", category="salary", rate_oere=10, amount_oere=100),
        BudgetLine(post="c", category="salary", quantity=10, amount_oere=100),
    ]
    assert pairs(validate_budget(budget(*lines))) == [
        ("salary_rate_missing", "budget.lines.0.rate_oere"),
        ("salary_rate_missing", "budget.lines.0.quantity"),
        ("salary_rate_missing", "budget.lines.1.quantity"),
        ("salary_rate_missing", "budget.lines.2.rate_oere"),
    ]


def test_other_lines_need_no_rate() -> None:
    assert validate_budget(budget(other("rent", 100))) == []


@pytest.mark.parametrize("amount", [120_000_000 - 1, 120_000_000 + 1])
def test_salary_amount_one_oere_off(amount: int) -> None:
    line = BudgetLine(post="s", category="salary", rate_oere=50_000, quantity=2_400, amount_oere=amount)
    reasons = validate_budget(budget(line))
    assert pairs(reasons) == [("salary_amount_mismatch", "budget.lines.0.amount_oere")]
    assert "120000000" in reasons[0].message


def test_salary_with_zero_quantity_must_have_zero_amount() -> None:
    assert validate_budget(budget(salary(rate=50_000, quantity=0))) == []
    line = BudgetLine(post="s", category="salary", rate_oere=50_000, quantity=0, amount_oere=1)
    assert pairs(validate_budget(budget(line))) == [("salary_amount_mismatch", "budget.lines.0.amount_oere")]


def test_other_line_with_rate_and_quantity_must_multiply() -> None:
    good = BudgetLine(post="travel", category="other", rate_oere=250, quantity=4, amount_oere=1000)
    bad = BudgetLine(post="rent", category="other", rate_oere=250, quantity=4, amount_oere=1001)
    half = BudgetLine(post="fees", category="other", rate_oere=250, amount_oere=999)
    assert pairs(validate_budget(budget(good, bad, half))) == [
        ("line_amount_mismatch", "budget.lines.1.amount_oere")
    ]


def test_large_amounts_multiply_exactly() -> None:
    line = salary(rate=10**6, quantity=10**9)  # 10^15 øre: the contracts' ceiling
    assert validate_budget(budget(line)) == []


@pytest.mark.parametrize("second", ["project staff", "Project Staff", "  project   staff "])
def test_duplicate_post(second: str) -> None:
    lines = [salary("project staff"), other(second, 100)]
    assert pairs(validate_budget(budget(*lines))) == [("duplicate_post", "budget.lines.1.post")]


def test_duplicate_post_points_at_every_repeat() -> None:
    lines = [other("a", 1), other("b", 1), other("A", 1), other("a ", 1)]
    reasons = validate_budget(budget(*lines))
    assert pairs(reasons) == [
        ("duplicate_post", "budget.lines.2.post"),
        ("duplicate_post", "budget.lines.3.post"),
    ]
    assert "budget.lines.0" in reasons[0].message


@pytest.mark.parametrize("delta", [-1, 1])
def test_total_one_oere_off(delta: int) -> None:
    lines = (salary(), other())
    total = sum(line.amount_oere for line in lines) + delta
    assert pairs(validate_budget(budget(*lines, total=total))) == [
        ("budget_total_mismatch", "budget.total_oere")
    ]


def test_every_violation_is_reported() -> None:
    command = submission(
        applicant=Applicant(cvr="12345678", municipality_code="999", name="X"),
        pool_id="unknown",
        budget=budget(
            BudgetLine(post="staff", category="salary", amount_oere=100),
            BudgetLine(post="staff", category="salary", rate_oere=3, quantity=3, amount_oere=10),
            total=1,
        ),
    )
    assert pairs(validate_submission(command, pools_of())) == [
        ("cvr_invalid", "applicant.cvr"),
        ("municipality_unknown", "applicant.municipality_code"),
        ("pool_unknown", "pool_id"),
        ("salary_rate_missing", "budget.lines.0.rate_oere"),
        ("salary_rate_missing", "budget.lines.0.quantity"),
        ("salary_amount_mismatch", "budget.lines.1.amount_oere"),
        ("duplicate_post", "budget.lines.1.post"),
        ("budget_total_mismatch", "budget.total_oere"),
    ]
