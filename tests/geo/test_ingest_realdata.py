"""Real data: 13,472 San Francisco incidents against the publisher's own per-polygon counts."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest

from geo.assign import assign_to_groups
from geo.ingest import UploadOptions, commit_upload, prepare_upload
from geo.store import create_store
from tests.conftest import SHARED_DATA, shared_file

pytestmark = [pytest.mark.realdata, pytest.mark.slow]

INCIDENTS = SHARED_DATA / "incidents" / "sf_crime_jul_dec2012_cc0.gpkg"
BLOCKS = SHARED_DATA / "incidents" / "SFCrime_blocks.geojson"
#: the publisher's count column of each incident category
COLUMNS = {"VANDALISM": "Vandalism", "ROBBERY": "Robbery", "DRUG/NARCOTIC": "Drugs",
           "VEHICLE THEFT": "CarTheft"}  # fmt: skip


@pytest.fixture(scope="module")
def sf():
    incidents = gpd.read_file(shared_file(INCIDENTS))
    blocks = gpd.read_file(shared_file(BLOCKS))
    groups = blocks.assign(group_id=blocks["GEO_ID"], zone_id="sf", ward_id="sf",
                           name=blocks["GEO_displa"], population=blocks["Population"])  # fmt: skip
    return incidents, blocks, groups


def test_assignment_reproduces_the_publishers_counts(sf):
    incidents, blocks, groups = sf
    assigned = assign_to_groups(incidents, groups)
    assert len(assigned) == len(incidents)  # nothing dropped
    assert (assigned["assignment"] == "outside").sum() <= 18  # the data's own stray points
    for category, column in COLUMNS.items():
        ours = assigned[(assigned["Category"] == category) & (assigned["assignment"] == "inside")]
        counts = ours["group_id"].value_counts().reindex(blocks["GEO_ID"]).fillna(0)
        share = (counts.to_numpy() == blocks[column].to_numpy()).mean()
        assert share >= 0.96, f"{category}: only {share:.1%} of polygons match"


def test_repeated_incident_numbers_are_found_as_duplicates(sf, tmp_path):
    incidents, _, groups = sf
    store = create_store(tmp_path / "sf.gpkg")
    ward = gpd.GeoDataFrame({"ward_id": ["sf"], "name": ["San Francisco"]},
                            geometry=[groups.union_all()], crs=4326)  # fmt: skip
    store.write({"wards": ward, "groups": groups}, user="t", action="sf blocks")
    csv = incidents.drop(columns="geometry").to_csv(index=False).encode()
    options = UploadOptions(
        overrides={"IncidntNum": "record_id", "Category": "category", "Date": "observed_at"},
        category_aliases={c: "other" for c in COLUMNS},
        now=pd.Timestamp("2013-01-01", tz="Asia/Ho_Chi_Minh"),
    )
    prepared = prepare_upload(csv, name="sf.csv", store=store, options=options)
    s = commit_upload(prepared, store=store)
    repeated = int(incidents["IncidntNum"].duplicated().sum())
    assert repeated == 3332
    same_id = (store.read("duplicates")["match"] == "same_id").sum()
    assert same_id == repeated
    assert s["accepted"] + s["duplicates"] + s["quarantined"] == s["rows"] == len(incidents)
    assert store.count("violations") == s["accepted"]
