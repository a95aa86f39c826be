"""The template-reading layer every rule reads values through: numbers, absent values, joins, conditions."""

from __future__ import annotations

from typing import Any

import pytest
from cdk_nag import NagRuleCompliance

from ecs_service_discovery.nag.template import (
    MAX_WHOLE_NUMBER,
    DeployTimeValue,
    InvalidValue,
    as_deployed,
    each,
    present,
    whole_number,
)

NO_VALUE = {"Ref": "AWS::NoValue"}
IF_NO_VALUE = {"Fn::If": ["IsProd", {"FailureThreshold": 1}, NO_VALUE]}


@pytest.mark.parametrize(
    ("value", "expected"), [(0, 0), (10, 10), ("10", 10), ("010", 10), (60.0, 60), (MAX_WHOLE_NUMBER, MAX_WHOLE_NUMBER)]
)
def test_whole_numbers_as_cloudformation_users_write_them(value: Any, expected: int) -> None:
    assert whole_number(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        -1,
        "-1",
        1.5,
        "1.5",
        "1e3",
        " 10",
        "10\n",
        "+10",
        "0x10",
        "\u0661\u0660",
        "",
        True,
        None,
        MAX_WHOLE_NUMBER + 1,
        2**63,
        "9" * 5000,
        float("nan"),
        float("inf"),
        1e999,
        [10],
        {"TTL": 10},
    ],
    ids=repr,
)
def test_numbers_cloudformation_refuses_are_invalid(value: Any) -> None:
    with pytest.raises(InvalidValue):
        whole_number(value)


@pytest.mark.parametrize(
    "value",
    [
        {"Ref": "Ttl"},
        {"Fn::If": ["IsProd", 10, 600]},
        {"Fn::GetAtt": ["Stack", "Outputs.Ttl"]},
        {"Fn::ImportValue": "shop-ttl"},
        {"Fn::Select": [0, ["10", "20"]]},
        {"Fn::FindInMap": ["Ttls", "prod", "dns"]},
        {"Fn::Sub": "${Ttl}"},
        {"Fn::Join": ["", ["1", {"Ref": "Zero"}]]},
    ],
    ids=repr,
)
def test_intrinsic_functions_are_known_only_at_deploy_time(value: Any) -> None:
    with pytest.raises(DeployTimeValue):
        whole_number(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"A": 1, "B": NO_VALUE}, {"A": 1}),
        ([1, NO_VALUE, 2], [1, 2]),
        ({"Outer": {"Inner": NO_VALUE}}, {"Outer": {}}),
        ({"Fn::Join": [".", ["api", "shop"]]}, "api.shop"),
        ({"Fn::Join": ["", ["1", {"Fn::Join": ["", ["0"]]}]]}, "10"),
        ({"Fn::Sub": "api.shop"}, "api.shop"),
        ({"Fn::Sub": ["api.shop", {}]}, "api.shop"),
        ({"Fn::Sub": "${!Literal}"}, "${Literal}"),
        # Deploy-time values stay what they are; a Fn::If branch that is AWS::NoValue is kept.
        ({"Fn::Sub": "${AppName}.local"}, {"Fn::Sub": "${AppName}.local"}),
        ({"Fn::Join": ["", ["a", {"Ref": "B"}]]}, {"Fn::Join": ["", ["a", {"Ref": "B"}]]}),
        (IF_NO_VALUE, IF_NO_VALUE),
        ({"Fn::If": ["C", {"A": NO_VALUE}, 1]}, {"Fn::If": ["C", {}, 1]}),
    ],
    ids=repr,
)
def test_as_deployed_drops_no_value_and_joins_literals(value: Any, expected: Any) -> None:
    assert as_deployed(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, False),
        (NO_VALUE, False),
        ({"FailureThreshold": 1}, True),
        ({"Ref": "Port"}, True),
        ({"Fn::If": ["C", 1, 2]}, True),
        ({"Fn::If": ["C", NO_VALUE, NO_VALUE]}, False),
        ({"Fn::If": ["C", {"Fn::If": ["D", 1, 2]}, 3]}, True),
    ],
    ids=repr,
)
def test_present_when_every_branch_agrees(value: Any, expected: bool) -> None:
    assert present(value) is expected


@pytest.mark.parametrize(
    "value", [IF_NO_VALUE, {"Fn::If": ["C", 1, {"Fn::If": ["D", 2, NO_VALUE]}]}, {"Fn::If": "C"}], ids=repr
)
def test_present_is_decided_at_deploy_time_when_a_branch_is_absent(value: Any) -> None:
    with pytest.raises(DeployTimeValue):
        present(value)


def _ttl_within_60(value: Any) -> NagRuleCompliance:
    return NagRuleCompliance.NON_COMPLIANT if whole_number(value) > 60 else NagRuleCompliance.COMPLIANT


def test_each_reports_a_known_violation_beside_a_deploy_time_value() -> None:
    assert each([{"Ref": "Ttl"}, 600], _ttl_within_60) is NagRuleCompliance.NON_COMPLIANT
    assert each([10, "-1"], _ttl_within_60) is NagRuleCompliance.NON_COMPLIANT


def test_each_does_not_pass_beside_a_deploy_time_value() -> None:
    with pytest.raises(DeployTimeValue):
        each([10, {"Ref": "Ttl"}], _ttl_within_60)
    assert each([10, 60], _ttl_within_60) is NagRuleCompliance.COMPLIANT
    assert each([], _ttl_within_60) is NagRuleCompliance.NOT_APPLICABLE
