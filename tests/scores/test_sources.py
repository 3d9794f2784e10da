"""The public data-set loaders on a sample in the SBA file's own layout: money parsed to exact fen, labels from
MIS_Status, rows without a status or year dropped, no geographic or name column carried; the synthetic plans
follow the evidence they claim to."""

import numpy as np
import pyarrow.compute as pc
import pytest

from arrears.scores.catalog import feature_catalog
from arrears.scores.sources import load_sba, synthetic_completion
from arrears.scores.train import fit_and_evaluate

HEADER = ("LoanNr_ChkDgt,Name,City,State,Zip,Bank,BankState,NAICS,ApprovalDate,ApprovalFY,Term,NoEmp,NewExist,"
          "CreateJob,RetainedJob,FranchiseCode,UrbanRural,RevLineCr,LowDoc,ChgOffDate,DisbursementDate,"
          "DisbursementGross,BalanceGross,MIS_Status,ChgOffPrinGr,GrAppv,SBA_Appv")
ROWS = [
    '1,ABC,EVANSVILLE,IN,47711,BANK,OH,451120,28-Feb-97,1997,84,4,2,0,0,1,0,N,Y,,28-Feb-99,"$60,000.00 ",$0.00 ,'
    'P I F,$0.00 ,"$60,000.00 ","$48,000.00 "',
    '2,XYZ,NEW PARIS,IN,46526,BANK,IN,0,28-Feb-97,2004,60,2,1,3,1,5,1,Y,N,1-Jan-06,31-May-97,"$40,000.33 ",$0.00 ,'
    'CHGOFF,"$10,000.00 ","$40,000.00 ","$20,000.00 "',
    '3,NOSTATUS,X,IN,1,BANK,IN,0,28-Feb-97,2004,60,2,1,0,0,1,1,N,N,,31-May-97,"$1.00 ",$0.00 ,,$0.00 ,"$1.00 ","$1.00 "',
    '4,BADMONEY,X,IN,1,BANK,IN,0,28-Feb-97,1976A,60,2,1,0,0,1,1,`,C,,31-May-97,"$x ",$0.00 ,P I F,$0.00 ,"$0.00 ","$1.00 "',
]


def test_sba_sample_is_read_with_exact_fen_and_labels(tmp_path):
    csv = tmp_path / "train.csv"
    csv.write_text("\n".join([HEADER, *ROWS]) + "\n", encoding="utf-8")
    table = load_sba(csv).sort_by("label")
    assert table.num_rows == 3  # the row without a status is dropped
    rows = {r["label"]: r for r in table.to_pylist() if r["amount_fen"] is not None}
    assert table.column("amount_fen").type.bit_width == 64 and pc.all(pc.is_valid(table.column("label"))).as_py()
    assert rows[0]["amount_fen"] == 6_000_000 and rows[0]["guarantee_share"] == pytest.approx(0.8)
    assert rows[1]["amount_fen"] == 4_000_033 and rows[1]["sector"] is None  # NAICS 0: unknown industry
    assert (rows[0]["new_business"], rows[1]["new_business"]) == ("new", "existing")
    assert (rows[1]["revolving"], rows[1]["low_doc"], rows[1]["franchise"]) == ("Y", "N", "yes")
    bad = [r for r in table.to_pylist() if r["revolving"] is None]
    assert len(bad) == 1 and bad[0]["amount_fen"] is None and bad[0]["guarantee_share"] is None  # unreadable money
    assert str(bad[0]["period"]) == "1976-01-01"  # '1976A' fiscal year read as 1976
    allowed = set(feature_catalog().datasets["sba"].features) | {"label", "period"}
    assert set(table.column_names) == allowed


def test_a_missing_sba_file_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        load_sba(tmp_path / "absent.csv")


def test_synthetic_plans_follow_the_redefault_evidence_and_train():
    plans = synthetic_completion(20_000, seed=3)
    relief = plans.column("payment_relief").to_numpy()
    done = plans.column("label").to_numpy()
    # OCC 2009: larger payment cuts redefault less
    assert done[relief >= 0.2].mean() > done[(relief > 0) & (relief < 0.1)].mean() > done[relief == 0].mean()
    _, figures, _ = fit_and_evaluate("completion", plans, "period")
    assert figures["auc"] > 0.6 and figures["rows"] == pytest.approx(4000, rel=0.05)
    assert np.isfinite(figures["brier"])
