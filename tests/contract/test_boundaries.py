"""Replacing boundaries keeps the old versions, so records keep the group they had."""

from __future__ import annotations

import pandas as pd
import pytest

from geo.errors import StoreError
from geo.store import Query
from tests.contract.samples import TZ, groups, ward


def test_replacing_boundaries_keeps_the_old_version(store):
    store.replace_boundaries(
        "groups", groups("Tổ 1 cũ"), valid_from=pd.Timestamp("2025-01-01"), user="t"
    )
    store.replace_boundaries(
        "groups", groups("Tổ 1 mới"), valid_from=pd.Timestamp("2025-07-01"), user="t"
    )
    assert store.read("groups").set_index("group_id").loc["g1", "name"] == "Tổ 1 mới"
    old = store.read("groups", Query(as_of=pd.Timestamp("2025-03-01")))
    assert old.set_index("group_id").loc["g1", "name"] == "Tổ 1 cũ"
    assert old["valid_to"].eq(pd.Timestamp("2025-07-01", tz=TZ)).all()
    assert store.count("groups", Query(as_of=pd.Timestamp("2024-12-01"))) == 0
    assert store.count("groups", Query(as_of=pd.Timestamp("2030-01-01"))) == 2
    log = store.read("audit_log")
    assert log["action"].tolist() == ["replace groups"] * 2 and store.data_version() == 2
    version = store.data_version()
    with pytest.raises(StoreError, match="must start later"):
        store.replace_boundaries(
            "groups", groups(), valid_from=pd.Timestamp("2025-05-01"), user="t"
        )
    assert store.count("groups", Query(as_of=pd.Timestamp("2025-03-01"))) == 2
    assert store.data_version() == version


def test_a_replacement_touches_only_its_own_wards(store):
    other = groups().assign(ward_id="v", group_id=["v1", "v2"], name=["V1", "V2"])
    store.replace_boundaries("groups", other, valid_from=pd.Timestamp("2025-01-01"), user="t")
    store.replace_boundaries("groups", groups(), valid_from=pd.Timestamp("2025-02-01"), user="t")
    store.replace_boundaries("groups", groups("mới"), valid_from=pd.Timestamp("2025-03-01"),
                             user="t")  # fmt: skip
    current = store.read("groups")
    assert sorted(current["group_id"]) == ["g1", "g2", "v1", "v2"]
    assert store.read("groups", Query(ward_id="v"))["valid_to"].isna().all()
    assert store.count("groups") == 4 and store.count("groups", Query(ward_id="w")) == 2


def test_ward_ids_are_the_wards_with_current_boundaries(store):
    store.replace_boundaries("wards", ward(), valid_from=pd.Timestamp("2025-01-01"), user="t")
    gone = ward().assign(ward_id="old", valid_to=pd.Timestamp("2024-01-01", tz=TZ),
                         valid_from=pd.Timestamp("2020-01-01", tz=TZ))  # fmt: skip
    store.write({"wards": pd.concat([gone, ward().assign(ward_id="a")])}, user="t", action="w")
    assert store.ward_ids() == ["a", "w"]


def test_boundary_replacements_are_checked_before_writing(store):
    with pytest.raises(StoreError, match="level must be one of"):
        store.replace_boundaries("streets", groups(), valid_from=pd.Timestamp("2025-01-01"),
                                 user="t")  # fmt: skip
    with pytest.raises(StoreError, match="needs a ward_id"):
        store.replace_boundaries("groups", groups().assign(ward_id=None),
                                 valid_from=pd.Timestamp("2025-01-01"), user="t")  # fmt: skip
    assert store.data_version() == 0
